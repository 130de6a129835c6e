// A local OpenAI-compatible HTTP server for tests: POST /v1/chat/completions answered by a
// script the test sets, with `usage` as the API reports it. The server reaches it through the
// real `openai` SDK, exactly as it reaches a provider.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after } from "node:test";
import type { ChatMessage } from "../../rlm/model.ts";

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  /** The Authorization header the caller sent. */
  authorization: string | undefined;
}

/** A reply: text (usage counted from the words), or an HTTP error, optionally after a delay. */
export type Reply = string | { status: number; message: string } | { text: string; delayMs: number };

export type Script = (request: ChatRequest) => Reply | Promise<Reply>;

export interface ScriptedLlm {
  /** http://127.0.0.1:PORT/v1 */
  url: string;
  requests: ChatRequest[];
  script: Script;
}

/** The last user message: the prompt of an llm_query. */
export function promptOf(request: ChatRequest): string {
  return request.messages.filter((message) => message.role === "user").at(-1)?.content ?? "";
}

/** Starts the server; it is closed when the test file ends. Call at the top level of a test file. */
export async function startScriptedLlm(script: Script = (request) => `echo: ${promptOf(request)}`): Promise<ScriptedLlm> {
  const llm: ScriptedLlm = { url: "", requests: [], script };
  const server = createServer(async (request, response) => {
    if (request.method !== "POST" || !request.url?.endsWith("/chat/completions")) {
      response.writeHead(404).end();
      return;
    }
    const body = JSON.parse(await readAll(request)) as { model: string; messages: ChatMessage[] };
    const chat: ChatRequest = { model: body.model, messages: body.messages, authorization: request.headers.authorization };
    llm.requests.push(chat);
    const reply = await llm.script(chat);
    if (typeof reply === "object" && "status" in reply) {
      response.writeHead(reply.status, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: reply.message, type: "invalid_request_error" } }));
      return;
    }
    const text = typeof reply === "string" ? reply : reply.text;
    if (typeof reply === "object") await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (response.destroyed) return;
    const promptTokens = body.messages.reduce((sum, message) => sum + words(message.content), 0);
    response.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        id: `chatcmpl-${llm.requests.length}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
        usage: { prompt_tokens: promptTokens, completion_tokens: words(text), total_tokens: promptTokens + words(text) },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  llm.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return llm;
}

function words(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

async function readAll(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}
