// The two ways the page makes elements: with a class and text (set as text, never as HTML), and
// buttons that say what they do to a screen reader when their face is only a symbol.

export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text?: string): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

export function button(text: string, label: string | null, onClick: () => void, className = ""): HTMLButtonElement {
  const made = element("button", className, text);
  made.type = "button";
  if (label) made.setAttribute("aria-label", label);
  made.addEventListener("click", onClick);
  return made;
}
