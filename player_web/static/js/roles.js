// Where each role works: its home page, and the pages a login may go on to (`next=`).
export const HOME = { officer: "console.html", supervisor: "search.html", admin: "admin.html" };
// The pages each role works in: `next=` leads only to one of these, else to the role's home.
const PAGES = { officer: ["console.html", "search.html"], supervisor: ["search.html", "warnings.html"],
                admin: ["admin.html", "docs"] };

export function landing(role, next) {
  const home = HOME[role] || "login.html";
  if (!next) return home;
  const page = new URL(next, location.href).pathname.split("/").pop();
  return (PAGES[role] || []).includes(page) ? next : home;
}
