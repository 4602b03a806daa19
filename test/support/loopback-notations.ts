/**
 * Every way of writing a loopback or unspecified address that WHATWG URL accepts (it normalizes
 * most of them to 127.0.0.1): what an SSRF redirect probe tries, hop after hop.
 */
export const LOOPBACK_NOTATIONS: readonly string[] = [
  '127.0.0.1',
  '127.1',
  '2130706433',
  '0x7f000001',
  '0177.0.0.1',
  '0.0.0.0',
  '[::1]',
  '[::ffff:127.0.0.1]',
  '[::ffff:7f00:1]',
  '[64:ff9b::7f00:1]',
];
