// The process entry point: `node dist/main.js` once built (the Dockerfile and npm scripts use it).
// The service itself boots in src/main.ts.
import './src/main';
