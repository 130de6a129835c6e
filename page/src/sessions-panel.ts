// The list of the signed-in user's sessions (GET /v1/sessions): which is this notebook's, which
// are running, hibernated (saved to the store, woken by the next cell), with buttons to open one
// here (its buffered output is replayed) or end it.
import type { SessionSummary } from "../../protocol/frames.ts";
import { button, element } from "./dom.ts";

interface SessionActions {
  open(id: string): void;
  end(id: string): void;
}

/** `current`: this notebook's session, and whether a cell of it runs (the page knows that before the list does). */
export function renderSessions(list: HTMLElement, sessions: readonly SessionSummary[], current: { id: string | null; running: boolean }, actions: SessionActions): void {
  if (sessions.length === 0) {
    list.replaceChildren(element("li", "empty", "No sessions yet: running a cell opens one."));
    return;
  }
  list.replaceChildren(
    ...sessions.map((session) => {
      const id = session.session_id;
      const item = element("li");
      item.dataset.session = id;
      const mine = id === current.id;
      const states = [
        mine && "this notebook",
        (mine ? current.running : session.running) && "running",
        session.hibernated && "hibernated",
        `${session.cell_count} cell${session.cell_count === 1 ? "" : "s"}`,
        `last active ${new Date(session.last_active_at).toLocaleTimeString()}`,
      ].filter(Boolean);
      const name = element("code", "", id.slice(0, 12));
      name.title = id;
      item.append(name, element("span", "details", states.join(" · ")));
      if (!mine) item.append(button("Open", `Open session ${id} in this tab`, () => actions.open(id)));
      item.append(button("End", `End session ${id}`, () => actions.end(id)));
      return item;
    }),
  );
}
