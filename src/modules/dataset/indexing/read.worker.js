'use strict';
// Worker thread of DocumentReader (document-reader.ts): turns one uploaded file into cleaned text
// per message. Parsing a large PDF, Word file or workbook takes seconds of CPU, which on the main
// thread held every request of a process that runs the API and the worker together (always so in
// embedded mode); here the main thread stays free, a reader that outlives its time is stopped,
// and its heap is capped. Plain CommonJS, copied to dist as a nest-cli asset; under ts-jest and
// ts-node (`workerData.typescriptRoot`) it registers ts-node to load the TypeScript parsers.
const { parentPort, workerData } = require('node:worker_threads');

if (workerData.typescriptRoot) {
  const root = workerData.typescriptRoot;
  require('ts-node').register({ transpileOnly: true, project: `${root}/tsconfig.json` });
  const tsconfigPaths = require('tsconfig-paths');
  const config = tsconfigPaths.loadConfig(root);
  tsconfigPaths.register({ baseUrl: config.absoluteBaseUrl, paths: config.paths });
}
const { parseDocument } = require('./parsers');
const { cleanText } = require('./cleaner');
const { DocumentParseError } = require('./pipeline.types');

parentPort.on('message', async ({ id, bytes, extension, name, rule, options }) => {
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const raw = await parseDocument({ bytes: buffer, extension, name }, options);
    parentPort.postMessage({ id, ok: true, text: cleanText(raw, rule) });
  } catch (err) {
    parentPort.postMessage({
      id,
      ok: false,
      unreadable: err instanceof DocumentParseError,
      message: err instanceof Error ? err.message : String(err),
    });
  }
});
