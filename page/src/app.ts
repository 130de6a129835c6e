// The notebook page once signed in: the notebook, the session it runs in and the page's connection
// to it, the toolbar, and the sessions and files panels. Runs go out as execute frames; the frames
// that come back (live, or replayed after a reload) change their cells (outputs.ts), and the
// notebook is kept in the tab with the last seq it holds (storage.ts).
import type { EvictionReason, ServerFrame, SessionFrame, SessionLimits } from "../../protocol/frames.ts";
import { Api, ApiError } from "./api.ts";
import { SessionConnection, type Gone } from "./connection.ts";
import { renderFiles } from "./files-panel.ts";
import { fromIpynb, IpynbError, toIpynb } from "./ipynb.ts";
import { newCell, newId, newNotebook, startRun, type Cell, type Note, type Notebook } from "./notebook.ts";
import { NotebookView } from "./notebook-view.ts";
import { element } from "./dom.ts";
import { applyFrame, type RunFrame } from "./outputs.ts";
import { renderSessions } from "./sessions-panel.ts";
import { tabStorage } from "./storage.ts";

/** The page's elements the notebook works with (index.html). */
interface PageParts {
  status: HTMLElement;
  cells: HTMLElement;
  notes: HTMLElement;
  sessions: HTMLElement;
  files: HTMLElement;
}

/** A reset's id: its result is the notebook's, not a cell's. */
const RESET_PREFIX = "reset-";
/** The tab's copy of the notebook is written at most this often while frames stream in (and when the page goes). */
const SAVE_EVERY_MS = 200;
/** The files and sessions panels are asked again this long after the last result. */
const PANELS_AFTER_MS = 400;

export class NotebookApp {
  private notebook: Notebook;
  private session: string | null;
  private connection: SessionConnection | null = null;
  private limits: SessionLimits | null = null;
  private readonly view: NotebookView;
  private readonly api: Api;
  private notes: Note[] = [];
  private saving: ReturnType<typeof setTimeout> | null = null;
  private refreshing: ReturnType<typeof setTimeout> | null = null;
  private opening: Promise<SessionConnection> | null = null;
  /** Why the server said it ended the session (its evicted frame), until the socket closes. */
  private eviction: EvictionReason | null = null;

  constructor(
    private readonly token: string,
    private readonly parts: PageParts,
    /** The token stopped working: back to the sign-in form, saying why. */
    private readonly signIn: (why: string) => void,
  ) {
    this.api = new Api(token);
    this.view = new NotebookView(parts.cells, {
      run: (cell, advance) => this.run(cell, advance),
      changed: () => this.scheduleSave(),
      remove: (cell) => this.remove(cell),
      move: (cell, by) => this.move(cell, by),
      reply: (cell, value) => this.connection?.send({ type: "input_reply", id: cell.run!, value }),
    });
    this.session = tabStorage.session();
    const kept = tabStorage.notebook(this.session);
    this.notebook = kept?.notebook ?? newNotebook();
    this.render();
    if (this.session) this.attach(this.session, kept?.lastSeq ?? 0);
    else this.status("Ready: running a cell opens a session.");
    addEventListener("pagehide", () => this.save());
    void this.refreshSessions();
    void this.refreshFiles();
  }

  /** Focuses the first cell, as a notebook opens. */
  focusFirst(): void {
    const first = this.notebook.cells[0];
    if (first) this.view.focus(first);
  }

  // ---- cells ----

  run(cell: Cell, advance: boolean): void {
    if (cell.cell_type === "code" && cell.source.trim() !== "") void this.execute(cell);
    else if (cell.cell_type !== "code") {
      cell.status = "done"; // a markdown cell shows its text
      this.view.update(cell);
    }
    if (advance) this.advanceFrom(cell);
  }

  private async execute(cell: Cell): Promise<void> {
    // The run's id names its cell: frames of a run the cell has since been run again past are known as such.
    startRun(cell, `${cell.id}-${newId().slice(0, 6)}`);
    this.view.update(cell);
    this.scheduleSave();
    try {
      (await this.connected()).send({ type: "execute", id: cell.run!, code: cell.source });
    } catch (error) {
      cell.status = "failed";
      cell.notes.push({ level: "warning", text: `No session to run in: ${(error as Error).message}` });
      this.view.update(cell);
    }
  }

  /** Shift+Enter: the next cell gets the focus; after the last, a new one is made for it. */
  private advanceFrom(cell: Cell): void {
    const cells = this.notebook.cells;
    let next = cells[cells.indexOf(cell) + 1];
    if (!next) {
      next = newCell();
      cells.push(next);
      this.render();
    }
    this.view.focus(next);
  }

  add(type: "code" | "markdown"): void {
    const cell = newCell("", type);
    this.notebook.cells.push(cell);
    this.render();
    this.view.focus(cell);
  }

  private remove(cell: Cell): void {
    const cells = this.notebook.cells;
    const at = cells.indexOf(cell);
    cells.splice(at, 1);
    if (cells.length === 0) cells.push(newCell());
    this.render();
    this.view.focus(cells[Math.min(at, cells.length - 1)]!);
  }

  private move(cell: Cell, by: -1 | 1): void {
    const cells = this.notebook.cells;
    const at = cells.indexOf(cell);
    const to = at + by;
    if (to < 0 || to >= cells.length) return;
    [cells[at], cells[to]] = [cells[to]!, cell];
    this.render();
    this.view.focus(cell);
  }

  // ---- the session ----

  interrupt(): void {
    this.connection?.send({ type: "interrupt" });
  }

  restart(): void {
    if (!this.connection) return this.status("No session yet: nothing to restart.");
    this.connection.send({ type: "reset", id: `${RESET_PREFIX}${newId()}` });
    this.status("Restarting the interpreter…");
  }

  /** A new session, with a new notebook: the one it opens on the first run. */
  newSession(): void {
    this.save();
    this.leave();
    this.notebook = newNotebook();
    this.notes = [];
    this.render();
    this.status("Ready: running a cell opens a new session.");
    void this.refreshFiles();
    void this.refreshSessions();
    this.focusFirst();
  }

  /** One of the user's sessions in this tab: the notebook kept for it, or the output it still holds, replayed. */
  open(id: string): void {
    this.save();
    this.leave();
    const kept = tabStorage.notebook(id);
    this.notebook = kept?.notebook ?? newNotebook();
    this.notes = [];
    this.render();
    this.attach(id, kept?.lastSeq ?? 0);
    void this.refreshFiles();
    void this.refreshSessions();
  }

  async end(id: string): Promise<void> {
    await this.api.endSession(id).catch((error: Error) => this.status(`The session could not be ended: ${error.message}`));
    if (id === this.session) this.newSession();
    else void this.refreshSessions();
  }

  private leave(): void {
    this.connection?.close();
    this.connection = null;
    this.opening = null;
    this.session = null;
    this.limits = null;
    tabStorage.setSession(null);
  }

  /** The connection to this notebook's session, opening a session first when it has none. */
  private connected(): Promise<SessionConnection> {
    if (this.connection) return Promise.resolve(this.connection);
    if (this.opening) return this.opening;
    const opening: Promise<SessionConnection> = this.api.openSession().then(
      (summary) => {
        // The notebook went to another session meanwhile (New session, Open): this one stays unused and idles out.
        if (this.opening !== opening) throw new Error("the notebook moved to another session");
        this.opening = null;
        void this.refreshSessions();
        return this.attach(summary.session_id, 0);
      },
      (error: Error) => {
        if (this.opening === opening) this.opening = null;
        throw error;
      },
    );
    this.opening = opening;
    return opening;
  }

  private attach(session: string, since: number | null): SessionConnection {
    this.session = session;
    tabStorage.setSession(session);
    this.status(`Connecting to session ${session.slice(0, 12)}…`);
    this.connection = new SessionConnection(
      this.token,
      session,
      since,
      {
        welcome: (frame) => this.welcome(frame),
        frame: (frame) => this.receive(frame),
        state: (state) => this.status(state === "open" ? `Session ${session.slice(0, 12)}: connected.` : "Connection lost: reconnecting…"),
        closed: (why, signIn) => this.closed(session, why, signIn),
      },
      () => this.whyGone(session),
    );
    return this.connection;
  }

  private welcome(frame: SessionFrame): void {
    this.limits = frame.limits;
    if (frame.restored_from_checkpoint) {
      this.note("warning", `The session's server went away; it came back from its checkpoint at execution ${frame.restored_from_checkpoint.execution_count}: later variables are gone.`);
    }
    this.scheduleSave();
  }

  private receive(frame: ServerFrame): void {
    switch (frame.type) {
      case "stream":
      case "display":
      case "clear_output":
      case "input_request":
      case "result":
      case "error":
        if (frame.type === "error" && frame.id === undefined) this.sessionError(frame.code, frame.message);
        else if (frame.id?.startsWith(RESET_PREFIX)) this.resetAnswered(frame);
        else this.cellFrame(frame);
        break;
      case "evicted":
        // An ending one is said when its socket closes, just after.
        if (frame.resumable) this.note("info", "The session's server is restarting: the session moves, and this page reconnects to it.");
        else this.eviction = frame.reason;
        break;
      default:
        return;
    }
    this.scheduleSave();
  }

  private cellFrame(frame: RunFrame): void {
    let cell = this.notebook.cells.find((candidate) => candidate.run === frame.id);
    // A run of a cell that was run again since (its id names the cell): the new run's outputs stand.
    if (!cell && this.notebook.cells.some((candidate) => frame.id!.startsWith(`${candidate.id}-`))) return;
    if (!cell) {
      // A run this notebook did not send: another tab or client of the same session, or one whose cell is gone.
      cell = newCell("");
      startRun(cell, frame.id!);
      cell.notes.push({ level: "info", text: "Run by another client of this session: its code is not in this notebook." });
      // Before the empty cell at the end, which stays where the next code is typed.
      const cells = this.notebook.cells;
      const last = cells.at(-1);
      cells.splice(last && last.status === "idle" && last.source === "" ? cells.length - 1 : cells.length, 0, cell);
      this.render();
    }
    applyFrame(cell, frame, this.limits);
    this.view.update(cell);
    if (frame.type === "result") this.refreshPanelsSoon();
  }

  private resetAnswered(frame: ServerFrame): void {
    if (frame.type === "result") {
      this.note("info", "Restarted: a fresh interpreter, every variable dropped (state_preserved: false).");
      this.status(`Session ${this.session?.slice(0, 12)}: restarted.`);
    } else if (frame.type === "error") this.note("warning", `The restart failed: ${frame.message}`);
  }

  private sessionError(code: string, message: string): void {
    if (code === "replay_gap") this.note("warning", `Some output produced while this page was away is no longer held by the server: ${message}`);
    else this.status(`${code}: ${message}`);
  }

  private closed(session: string, why: string, signIn: boolean): void {
    if (session !== this.session) return;
    this.save();
    this.connection = null;
    if (signIn) return this.signIn(why);
    // The notebook stays; the next run opens a new session for it.
    this.session = null;
    tabStorage.setSession(null);
    for (const cell of this.notebook.cells.filter((candidate) => candidate.status === "running")) {
      Object.assign(cell, { status: "failed", input: null });
      cell.notes.push({ level: "warning", text: "Its session ended before it finished." });
      this.view.update(cell);
    }
    const said = this.eviction ? `session ${session} was ended (${this.eviction})` : why;
    this.eviction = null;
    this.note("warning", `Gone: ${said}. The next cell run opens a new session.`);
    this.status(`Session ${session.slice(0, 12)} is gone.`);
    void this.refreshSessions();
    void this.refreshFiles();
  }

  /** What the REST routes say of a session the socket could not attach to. */
  private async whyGone(session: string): Promise<Gone> {
    try {
      if ((await this.api.sessions()).some((summary) => summary.session_id === session)) return null;
      await this.api.files(session);
      return null;
    } catch (error) {
      if (!(error instanceof ApiError)) return null;
      return { why: error.message, signIn: error.status === 401 };
    }
  }

  // ---- files and sessions ----

  async upload(files: readonly File[]): Promise<void> {
    try {
      const session = (await this.connected()).session;
      for (const file of files) await this.api.upload(session, file.name, file);
      this.status(`Uploaded ${files.map((file) => file.name).join(", ")}.`);
    } catch (error) {
      this.status(`The upload failed: ${(error as Error).message}`);
    }
    await this.refreshFiles();
  }

  async download(path: string): Promise<void> {
    if (!this.session) return;
    try {
      saveAs(await this.api.download(this.session, path), path.split("/").at(-1)!);
    } catch (error) {
      this.status(`The download failed: ${(error as Error).message}`);
    }
  }

  /**
   * The panels once the cells have paused: listing files is the session's work too, queued between
   * its cells, so a listing after every result would hold up the cell run right after it.
   */
  private refreshPanelsSoon(): void {
    if (this.refreshing) clearTimeout(this.refreshing);
    this.refreshing = setTimeout(() => {
      this.refreshing = null;
      void this.refreshFiles();
      void this.refreshSessions();
    }, PANELS_AFTER_MS);
  }

  async refreshFiles(): Promise<void> {
    const session = this.session;
    const listed = session ? await this.api.files(session).catch(() => null) : null;
    if (session === this.session) renderFiles(this.parts.files, listed?.files ?? null, (path) => void this.download(path));
  }

  async refreshSessions(): Promise<void> {
    try {
      const sessions = await this.api.sessions();
      const current = { id: this.session, running: this.notebook.cells.some((cell) => cell.status === "running") };
      renderSessions(this.parts.sessions, sessions, current, { open: (id) => this.open(id), end: (id) => void this.end(id) });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) this.signIn(error.message);
    }
  }

  // ---- .ipynb ----

  saveIpynb(): void {
    this.save();
    saveAs(new Blob([JSON.stringify(toIpynb(this.notebook), null, 1)], { type: "application/x-ipynb+json" }), "notebook.ipynb");
  }

  async loadIpynb(file: File): Promise<void> {
    try {
      this.notebook = fromIpynb(await file.text());
    } catch (error) {
      return this.status(error instanceof IpynbError ? `${file.name}: ${error.message}` : `${file.name} could not be read: ${(error as Error).message}`);
    }
    this.render();
    this.save();
    this.status(`Loaded ${file.name}: ${this.notebook.cells.length} cells. Run them to compute their outputs in this session.`);
    this.focusFirst();
  }

  // ---- drawing and keeping ----

  /** Draws the notebook after a change of its cells or notes, and keeps it. */
  private render(): void {
    this.scheduleSave();
    this.view.render(this.notebook);
    this.parts.notes.replaceChildren(...this.notes.map((note) => element("p", `note ${note.level}`, note.text)));
  }

  private note(level: Note["level"], text: string): void {
    this.notes.push({ level, text });
    this.render();
  }

  private status(text: string): void {
    this.parts.status.textContent = text;
  }

  private scheduleSave(): void {
    this.saving ??= setTimeout(() => this.save(), SAVE_EVERY_MS);
  }

  private save(): void {
    if (this.saving) clearTimeout(this.saving);
    this.saving = null;
    if (!tabStorage.save(this.session, { notebook: this.notebook, lastSeq: this.connection?.lastSeq ?? null })) {
      this.status("This tab's storage is full: the notebook is not kept across a reload (save it as .ipynb).");
    }
  }
}

/** Hands a blob to the browser as a download. */
function saveAs(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = Object.assign(element("a"), { href: url, download: name });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
