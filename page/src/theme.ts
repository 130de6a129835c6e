// Light or dark: the system's preference, unless the person chose with the Theme button (kept for
// this browser, as a display preference is). The choice is the root element's data-theme, which
// the style sheet and the output frames follow.
const CHOICE = "wasm-repl.theme";
const darkSystem = matchMedia("(prefers-color-scheme: dark)");

export function applyTheme(): void {
  const chosen = localStorage.getItem(CHOICE);
  document.documentElement.dataset.theme = chosen === "dark" || chosen === "light" ? chosen : darkSystem.matches ? "dark" : "light";
}

export function toggleTheme(): void {
  localStorage.setItem(CHOICE, document.documentElement.dataset.theme === "dark" ? "light" : "dark");
  applyTheme();
}

darkSystem.addEventListener("change", applyTheme);
