// A cell's code editor: CodeMirror 6 with Python, its history and default keys, and the notebook's
// own keys (Shift+Enter runs and moves on, Ctrl+Enter runs in place). Tab is left to the browser
// (focus moves on) so the page works from the keyboard alone; indenting is Ctrl+] and Ctrl+[.
// Token colours are CSS variables, so light and dark themes colour code as they colour the page.
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { bracketMatching, HighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, placeholder, type KeyBinding } from "@codemirror/view";
import { tags } from "@lezer/highlight";

const highlighting = HighlightStyle.define([
  { tag: [tags.keyword, tags.controlKeyword, tags.operatorKeyword, tags.definitionKeyword, tags.moduleKeyword], color: "var(--code-keyword)" },
  { tag: [tags.string, tags.special(tags.string)], color: "var(--code-string)" },
  { tag: [tags.number, tags.bool, tags.null], color: "var(--code-number)" },
  { tag: [tags.comment, tags.lineComment], color: "var(--code-comment)", fontStyle: "italic" },
  { tag: [tags.function(tags.variableName), tags.function(tags.definition(tags.variableName)), tags.definition(tags.className)], color: "var(--code-function)" },
  { tag: [tags.className, tags.typeName, tags.self], color: "var(--code-type)" },
]);

/** The editor's style elements need the nonce the page's policy was served with (see http/page-endpoint.ts). */
const styleNonce = document.querySelector<HTMLMetaElement>('meta[name="style-nonce"]')?.content ?? "";

interface EditorHandlers {
  /** Shift+Enter: run, then go to the next cell. */
  runAndAdvance(): void;
  /** Ctrl+Enter (Cmd+Enter): run and stay. */
  run(): void;
  changed(source: string): void;
}

export function createEditor(parent: HTMLElement, source: string, language: "python" | "text", label: string, handlers: EditorHandlers): EditorView {
  const keys: KeyBinding[] = [
    { key: "Shift-Enter", run: () => (handlers.runAndAdvance(), true) },
    { key: "Mod-Enter", run: () => (handlers.run(), true) },
  ];
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: source,
      extensions: [
        EditorView.cspNonce.of(styleNonce),
        keymap.of([...keys, ...defaultKeymap, ...historyKeymap]),
        history(),
        indentOnInput(),
        bracketMatching(),
        syntaxHighlighting(highlighting),
        placeholder(language === "python" ? "Python code — Shift+Enter runs it" : "Markdown"),
        ...(language === "python" ? [python()] : []),
        // Long lines wrap: a narrow window never scrolls code sideways.
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ "aria-label": label }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) handlers.changed(update.state.doc.toString());
        }),
      ],
    }),
  });
}
