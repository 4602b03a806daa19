export * from './http.module';
export * from './outbound-http.client';
export * from './outbound-request-error';
export * from './ssrf-guard';
export * from './policy-fetch';
export * from './credential-headers';
export * from './error-reason';
