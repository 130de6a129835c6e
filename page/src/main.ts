// The page's entry: the theme, then the token (this tab's, a development server's, or the sign-in
// form's), then the notebook, and the toolbar wired to it. body[data-state] says which of these the
// page is at (loading, signed-out, ready), for people's style sheet and for tests.
import { NotebookApp } from "./app.ts";
import { knownToken, tokenProblem } from "./auth.ts";
import { tabStorage } from "./storage.ts";
import { applyTheme, toggleTheme } from "./theme.ts";

const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

applyTheme();
byId("theme").addEventListener("click", toggleTheme);

const signedOut = tabStorage.takeSignOutReason();
const token = signedOut ? null : await knownToken();
if (token) start(token);
else askForToken(signedOut);

function signOut(why: string | null): void {
  tabStorage.signOut(why);
  location.reload();
}

function askForToken(why: string | null): void {
  document.body.dataset.state = "signed-out";
  byId("tools").hidden = true;
  byId("workspace").hidden = true;
  byId("sign-in").hidden = false;
  byId("status").textContent = why ?? "Sign in to start.";
  byId("sign-in-problem").textContent = why ?? "";
  const form = byId<HTMLFormElement>("sign-in-form");
  const field = byId<HTMLInputElement>("token");
  field.focus();
  form.onsubmit = async (event) => {
    event.preventDefault();
    const pasted = field.value.trim();
    const problem = await tokenProblem(pasted);
    if (problem) {
      byId("sign-in-problem").textContent = `That token does not work here: ${problem}`;
      return;
    }
    field.value = "";
    tabStorage.setToken(pasted);
    start(pasted);
  };
}

function start(token: string): void {
  byId("sign-in").hidden = true;
  byId("tools").hidden = false;
  byId("workspace").hidden = false;
  const app = new NotebookApp(
    token,
    { status: byId("status"), cells: byId("cells"), notes: byId("notebook-notes"), sessions: byId("sessions"), files: byId("files") },
    (why) => signOut(`Signed out: ${why}`),
  );
  byId("interrupt").onclick = () => app.interrupt();
  byId("restart").onclick = () => app.restart();
  byId("new-session").onclick = () => app.newSession();
  byId("save").onclick = () => app.saveIpynb();
  byId("add-code").onclick = () => app.add("code");
  byId("add-markdown").onclick = () => app.add("markdown");
  byId("refresh-sessions").onclick = () => void app.refreshSessions();
  byId("refresh-files").onclick = () => void app.refreshFiles();
  byId("sign-out").onclick = () => signOut("Signed out.");
  const load = byId<HTMLInputElement>("load");
  load.onchange = () => {
    const file = load.files?.[0];
    if (file) void app.loadIpynb(file);
    load.value = "";
  };
  const upload = byId<HTMLInputElement>("upload");
  upload.onchange = () => {
    const files = [...(upload.files ?? [])];
    if (files.length > 0) void app.upload(files);
    upload.value = "";
  };
  document.body.dataset.state = "ready";
  performance.mark("wasm-repl:ready");
  app.focusFirst();
}
