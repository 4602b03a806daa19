// Keep the app quiet in tests unless a developer asks for logs (LOG_LEVEL=debug npm test).
process.env.LOG_LEVEL ??= 'silent';
