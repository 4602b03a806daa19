'use strict';
// Worker thread of TemplateRenderer (template-renderer.ts): renders one Jinja template per
// message. A template is user input (template_transform nodes, LLM prompts) and Jinja has loops
// and string operations, so it runs here, where the main thread can stop it at its time limit
// and its heap is capped. Plain CommonJS so the same file runs under ts-jest and from dist
// (copied there as a nest-cli asset) without a loader.
const { parentPort, workerData } = require('node:worker_threads');
const { Template } = require('@huggingface/jinja');

const maxOutputChars = workerData.maxOutputChars;
const CACHE_SIZE = 256;
/** Parsed templates by source: a graph renders the same templates again and again. */
const cache = new Map();

parentPort.on('message', ({ id, source, vars }) => {
  try {
    let template = cache.get(source);
    if (!template) {
      template = new Template(source);
      if (cache.size >= CACHE_SIZE) cache.clear();
      cache.set(source, template);
    }
    const output = template.render(vars);
    if (output.length > maxOutputChars) {
      parentPort.postMessage({
        id,
        ok: false,
        message: `the template's output is longer than ${maxOutputChars} characters`,
      });
    } else parentPort.postMessage({ id, ok: true, output });
  } catch (err) {
    const message =
      err instanceof RangeError && /call stack/i.test(err.message)
        ? 'the template nests too deeply (recursion)'
        : err instanceof Error
          ? err.message
          : String(err);
    parentPort.postMessage({ id, ok: false, message });
  }
});
