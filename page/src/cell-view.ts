// One cell on the page: its editor, buttons, execution count and time, the notes of its last run,
// a prompt while it waits in input(), and its outputs. It draws the cell it is given (update());
// what a person does with it goes to the notebook through CellActions.
import { marked } from "marked";
import type { EditorView } from "@codemirror/view";
import { button, element } from "./dom.ts";
import { createEditor } from "./editor.ts";
import type { Cell, Output } from "./notebook.ts";
import { duration } from "./outputs.ts";
import { outputFrame } from "./output-frame.ts";
import { syncOutputs } from "./output-view.ts";

export interface CellActions {
  /** `advance`: then go to the next cell (Shift+Enter). */
  run(cell: Cell, advance: boolean): void;
  changed(cell: Cell): void;
  remove(cell: Cell): void;
  move(cell: Cell, by: -1 | 1): void;
  reply(cell: Cell, value: string): void;
}

export class CellView {
  readonly element: HTMLElement;
  private readonly editor: EditorView;
  private readonly count: HTMLElement;
  private readonly time: HTMLElement;
  private readonly notes: HTMLElement;
  private readonly prompt: HTMLFormElement;
  private readonly preview: HTMLElement;
  private readonly outputs: HTMLElement;
  private readonly drawn = new WeakMap<Output, HTMLElement>();
  /** The Markdown the preview shows (a markdown cell shows its source once run). */
  private previewed: string | null = null;

  constructor(
    readonly cell: Cell,
    private readonly actions: CellActions,
  ) {
    this.element = element("article", "cell");
    this.element.dataset.cellId = cell.id;
    this.element.dataset.cellType = cell.cell_type;
    const head = element("div", "cell-head");
    this.count = element("span", "count");
    const run = button(cell.cell_type === "code" ? "Run" : "Show", null, () => actions.run(cell, false), "run");
    this.time = element("span", "time");
    head.append(
      this.count,
      run,
      this.time,
      element("span", "spacer"),
      button("↑", "Move cell up", () => actions.move(cell, -1)),
      button("↓", "Move cell down", () => actions.move(cell, 1)),
      button("✕", "Delete cell", () => actions.remove(cell)),
    );
    const editorHolder = element("div", "editor");
    this.editor = createEditor(editorHolder, cell.source, cell.cell_type === "code" ? "python" : "text", `${cell.cell_type === "code" ? "Code" : "Markdown"} cell`, {
      runAndAdvance: () => actions.run(cell, true),
      run: () => actions.run(cell, false),
      changed: (source) => {
        cell.source = source;
        actions.changed(cell);
      },
    });
    this.preview = element("div", "preview");
    this.notes = element("ul", "notes");
    this.notes.setAttribute("role", "status");
    this.prompt = this.promptForm();
    this.outputs = element("div", "outputs");
    this.element.append(head, editorHolder, this.preview, this.notes, this.prompt, this.outputs);
    this.update();
  }

  focus(): void {
    this.editor.focus();
  }

  update(): void {
    const { cell } = this;
    this.element.dataset.status = cell.status;
    this.count.textContent = cell.cell_type !== "code" ? "" : cell.status === "running" ? "[*]" : `[${cell.execution_count ?? " "}]`;
    this.count.setAttribute("aria-label", cell.status === "running" ? "running" : cell.execution_count === null ? "not run" : `execution count ${cell.execution_count}`);
    this.time.textContent = cell.time === null ? "" : duration(cell.time);
    this.notes.replaceChildren(...cell.notes.map((note) => element("li", `note ${note.level}`, note.text)));
    this.prompt.hidden = cell.input === null;
    if (cell.input) {
      this.prompt.querySelector("label")!.textContent = cell.input.prompt || "Input:";
      const field = this.prompt.querySelector("input")!;
      field.type = cell.input.password ? "password" : "text";
    }
    syncOutputs(this.outputs, cell.outputs, this.drawn);
    if (cell.cell_type === "markdown" && cell.status !== "idle" && this.previewed !== cell.source) {
      this.previewed = cell.source;
      this.preview.replaceChildren(outputFrame(marked.parse(cell.source, { async: false }), "Markdown cell"));
    }
  }

  private promptForm(): HTMLFormElement {
    const form = element("form", "input-request");
    const id = `input-${this.cell.id}`;
    const label = Object.assign(element("label"), { htmlFor: id });
    const field = Object.assign(element("input"), { id, autocomplete: "off" });
    form.append(label, field, Object.assign(element("button", "", "Send"), { type: "submit" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.actions.reply(this.cell, field.value);
      field.value = "";
    });
    form.hidden = true;
    return form;
  }
}
