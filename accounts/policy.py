"""Who may do what: pure functions of a user and a session, no I/O. The one place access rules live.

An officer "took part" in a session when their user name or their display name (姓名) is one of the
session's officers. A session started or imported through the web app lists the user who started it among
its officers (`with_officer`), so its creator always took part; sessions imported from the CLI name their
officers with --officers. Supervisors read everything and change nothing; admins manage users and settings
and never see or change evidence. Nobody deletes or overwrites evidence: there is no rule that allows it.
An account whose role waits for a second person's confirmation has the role PENDING, which no rule names.
"""
from __future__ import annotations

from typing import Iterable, Optional

from accounts.types import ADMIN, OFFICER, SUPERVISOR, User


def took_part(user: Optional[User], session) -> bool:
    if user is None or user.disabled:
        return False
    officers = {o.casefold() for o in getattr(session, "officers", ()) or ()}
    return any(name.casefold() in officers for name in user.names)


def can_view_session(user: Optional[User], session) -> bool:
    """Metadata, transcript, versions, media, live view, export."""
    if user is None or user.disabled:
        return False
    if user.role == SUPERVISOR:
        return True
    return user.role == OFFICER and took_part(user, session)


def can_edit_transcript(user: Optional[User], session) -> bool:
    """Save a corrected transcript as a new version (versions are never overwritten)."""
    return user is not None and user.role == OFFICER and took_part(user, session)


def can_stop_session(user: Optional[User], session) -> bool:
    return user is not None and user.role == OFFICER and took_part(user, session)


def can_record(user: Optional[User]) -> bool:
    """Start a live session."""
    return user is not None and not user.disabled and user.role == OFFICER


def can_import(user: Optional[User]) -> bool:
    """Add a recording made elsewhere (officers, and admins as batch operators). Adds evidence, alters none."""
    return user is not None and not user.disabled and user.role in (OFFICER, ADMIN)


def can_see_jobs(user: Optional[User]) -> bool:
    """Background jobs (imports, re-transcriptions, reindexing, daily warnings): whoever may start one over the
    web (officers, admins) sees the ones they started; an admin, the batch operator, sees every job
    (`can_see_all_jobs`). A job shows its target (a file name, a session id), never what a recording says."""
    return can_import(user)


def can_see_all_jobs(user: Optional[User]) -> bool:
    return can_admin(user)


def can_search(user: Optional[User]) -> bool:
    """Officers search only their own sessions: filter hits with `can_view_session`."""
    return user is not None and not user.disabled and user.role in (OFFICER, SUPERVISOR)


def can_list_sessions(user: Optional[User]) -> bool:
    """Officers see only theirs in the list: filter with `can_view_session`."""
    return can_search(user)


def can_read_audit(user: Optional[User]) -> bool:
    return user is not None and not user.disabled and user.role == SUPERVISOR


def can_see_warnings(user: Optional[User]) -> bool:
    return can_read_audit(user)


def can_admin(user: Optional[User]) -> bool:
    """Users and settings."""
    return user is not None and not user.disabled and user.role == ADMIN


def can_see_grants(user: Optional[User]) -> bool:
    """The accounts waiting for a second person's confirmation of their role."""
    return user is not None and not user.disabled and user.role in (ADMIN, SUPERVISOR)


def can_confirm_grant(user: Optional[User], target: User) -> bool:
    """Separation of duties: a role an admin gave over the web (a new account, a role change, a password they
    set) takes effect only when a second person confirms it: another admin or a supervisor, not the account
    itself, and none of those who asked for it. Until then the account's role is PENDING and every rule here
    refuses it. (The CLI on the server is the site's root and acts directly.)"""
    return (can_see_grants(user) and target.pending_role is not None
            and user.username.casefold() != target.username.casefold() and user.actor not in target.pending_by)


def can_delete_evidence(user: Optional[User]) -> bool:
    """Never: originals, transcript versions and the audit chain are append-only for everyone."""
    return False


def visible(user: Optional[User], sessions: Iterable) -> list:
    """The sessions among these that the user may see (for lists and search hits)."""
    return [s for s in sessions if can_view_session(user, s)]


def with_officer(user: User, officers: Iterable[str]) -> tuple[str, ...]:
    """The officers of a session this user starts or imports: the given ones plus the user, so that the
    creator always took part (display name when the user has one, as it appears on the 笔录)."""
    names = tuple(o for o in officers if o)
    if user.role == OFFICER and not any(n.casefold() in {o.casefold() for o in names} for n in user.names):
        names = (user.display_name or user.username,) + names
    return names
