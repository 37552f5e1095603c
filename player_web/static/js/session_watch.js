// The list of sessions kept current: the server says over a WebSocket (/api/sessions/watch) when a session
// starts or ends, here or in another process, and the page reads the list again at once (the list itself
// comes from GET /api/sessions: what this user may see, audited). While the socket is down, and now and
// then anyway (warning badges), the list is read on a timer.
import { loginAgain } from "./common.js";

export function watchSessions(reload, { downMs = 15000, upMs = 60000 } = {}) {
  let open = false, opened = false, soon = null, last = Date.now();
  const again = () => { clearTimeout(soon); soon = setTimeout(() => { last = Date.now(); reload(); }, 50); };
  const connect = () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/api/sessions/watch`);
    ws.onopen = () => { open = true; if (opened) again(); opened = true; };  // what changed while it was down
    ws.onmessage = (m) => {
      let ev = null;
      try { ev = JSON.parse(m.data); } catch { return; }
      if (ev && ev.type === "sessions") again();
    };
    ws.onclose = (ev) => {
      open = false;
      if (ev.code === 4401) { loginAgain(); return; }
      if (ev.code !== 4403) setTimeout(connect, 3000);
    };
  };
  connect();
  setInterval(() => { if (Date.now() - last >= (open ? upMs : downMs) - 100) again(); }, 5000);
}
