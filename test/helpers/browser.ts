// A real browser for the notebook page's tests and bench: Debian's chromium (.ci/run installs it)
// driven by playwright-core, which never downloads a browser of its own. A NotebookPage is one tab
// on the page, with the steps a person takes (sign in, type into a cell, run it) and what they
// wait to see; every wait is Playwright's own polling, never a fixed sleep.
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after } from "node:test";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Download, type Locator, type Page } from "playwright-core";

const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
/** Where tests leave what a person would look at (screenshots): in the cache, never committed. */
const ARTIFACTS = fileURLToPath(new URL("../../.cache/test-artifacts/", import.meta.url));
/** A loaded two-core machine may take its time: every wait has this long. */
const WAIT_MS = 60_000;

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"],
  });
}

/** A browser closed when the test file ends. */
export async function testBrowser(): Promise<Browser> {
  const browser = await launchBrowser();
  after(() => browser.close());
  return browser;
}

export class NotebookPage {
  /**
   * Errors the page logged (a policy violation is one) or threw. Not the browser's note of each
   * refused request: the page asks for a development token everywhere, and tests try bad tokens.
   */
  readonly errors: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    page.setDefaultTimeout(WAIT_MS);
    page.on("console", (message) => {
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) this.errors.push(message.text());
    });
    page.on("pageerror", (error) => this.errors.push(error.message));
  }

  /** A new tab of its own (its own session storage) on the page at `url`. */
  static async open(browser: Browser, url: string, options: BrowserContextOptions = {}): Promise<NotebookPage> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, ...options });
    const tab = new NotebookPage(context, await context.newPage());
    await tab.page.goto(url);
    return tab;
  }

  /** Another tab beside this one: the same browser profile, its own session storage. */
  async sibling(url: string): Promise<NotebookPage> {
    const tab = new NotebookPage(this.context, await this.context.newPage());
    await tab.page.goto(url);
    return tab;
  }

  async close(): Promise<void> {
    await this.context.close();
  }

  /** body[data-state] reaches `state` (loading, signed-out, ready). */
  async state(state: string): Promise<void> {
    await this.page.locator(`body[data-state="${state}"]`).waitFor({ state: "attached" });
  }

  /** Signs in through the form, from the keyboard: the token field has the focus. */
  async signIn(token: string): Promise<void> {
    await this.state("signed-out");
    await this.page.keyboard.type(token);
    await this.page.keyboard.press("Enter");
  }

  cell(index: number): Locator {
    return this.page.locator("#cells > .cell").nth(index);
  }

  /** Replaces cell `index`'s code, as text typed into its editor (without the editor's auto-indent). */
  async write(index: number, code: string): Promise<void> {
    await this.cell(index).locator(".cm-content").click();
    await this.page.keyboard.press("ControlOrMeta+a");
    await this.page.keyboard.insertText(code);
  }

  /** Writes cell `index`'s code and runs it with Shift+Enter, as a person does. */
  async run(index: number, code: string): Promise<Locator> {
    await this.write(index, code);
    await this.page.keyboard.press("Shift+Enter");
    return this.cell(index);
  }

  /** Runs cell `index` as run() does and waits for its run to end as `status`. */
  async ran(index: number, code: string, status: "done" | "failed" = "done"): Promise<Locator> {
    await this.run(index, code);
    return this.finished(index, status);
  }

  /** Waits for cell `index`'s run to end (done or failed), and gives the cell. */
  async finished(index: number, status: "done" | "failed" = "done"): Promise<Locator> {
    const cell = this.cell(index);
    await this.page.locator(`#cells > .cell:nth-child(${index + 1})[data-status="${status}"]`).waitFor({ state: "attached" });
    return cell;
  }

  /** Waits until `locator` shows `text`. */
  async shows(locator: Locator, text: string | RegExp): Promise<void> {
    await locator.filter({ hasText: text }).first().waitFor();
  }

  /** A JavaScript expression's value in the page (a string: this file is not compiled with the DOM's types). */
  evaluate<T>(expression: string): Promise<T> {
    return this.page.evaluate(expression) as Promise<T>;
  }

  /** Clicks `selector` and gives the download it starts. */
  async download(click: () => Promise<void>): Promise<{ download: Download; text: string }> {
    const [download] = await Promise.all([this.page.waitForEvent("download"), click()]);
    const stream = await download.createReadStream();
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return { download, text: Buffer.concat(chunks).toString("utf8") };
  }

  /** Saves a screenshot under ARTIFACTS, and gives its path. */
  async screenshot(name: string, locator?: Locator): Promise<string> {
    const path = join(ARTIFACTS, name);
    await mkdir(dirname(path), { recursive: true });
    await (locator ?? this.page).screenshot({ path, ...(locator ? {} : { fullPage: true }) });
    return path;
  }
}
