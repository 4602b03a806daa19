/**
 * What each accepted extension may contain. Binary formats must sniff (magic bytes, via
 * `file-type`) as one of their MIME types; text formats must not sniff as anything and must be
 * UTF-8 text, so a renamed executable or archive never passes as `.txt`.
 */
export interface UploadRule {
  /** MIME type we store and serve. */
  mime: string;
  /** Sniffed MIME types accepted for this extension; empty: must be text. */
  sniffed: readonly string[];
}

const text = (mime: string): UploadRule => ({ mime, sniffed: [] });
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
// Old Office files are OLE2 compound documents; file-type names them by their container.
const OLE2 = ['application/x-cfb', 'application/msword', 'application/vnd.ms-excel'];

export const DOCUMENT_RULES: Readonly<Record<string, UploadRule>> = {
  txt: text('text/plain'),
  md: text('text/markdown'),
  markdown: text('text/markdown'),
  html: text('text/html'),
  htm: text('text/html'),
  csv: text('text/csv'),
  json: text('application/json'),
  pdf: { mime: 'application/pdf', sniffed: ['application/pdf'] },
  // A docx/xlsx is a zip; file-type looks inside for the Office parts (plain zip for some writers).
  docx: { mime: DOCX, sniffed: [DOCX, 'application/zip'] },
  xlsx: { mime: XLSX, sniffed: [XLSX, 'application/zip'] },
  doc: { mime: 'application/msword', sniffed: OLE2 },
  xls: { mime: 'application/vnd.ms-excel', sniffed: OLE2 },
};

export const IMAGE_RULES: Readonly<Record<string, UploadRule>> = {
  jpg: { mime: 'image/jpeg', sniffed: ['image/jpeg'] },
  jpeg: { mime: 'image/jpeg', sniffed: ['image/jpeg'] },
  png: { mime: 'image/png', sniffed: ['image/png'] },
  webp: { mime: 'image/webp', sniffed: ['image/webp'] },
  gif: { mime: 'image/gif', sniffed: ['image/gif'] },
  // SVG is text; it is checked to be an <svg> document and served with a sandboxing CSP.
  svg: text('image/svg+xml'),
};

export type UploadKind = 'document' | 'image';

export const RULES_BY_KIND: Readonly<Record<UploadKind, Readonly<Record<string, UploadRule>>>> = {
  document: DOCUMENT_RULES,
  image: IMAGE_RULES,
};

/** Why a file of this name cannot be uploaded as `kind`, or null when its extension is accepted. */
export function extensionProblem(kind: UploadKind, originalName: string): string | null {
  const ext = extensionOf(cleanFileName(originalName));
  if (RULES_BY_KIND[kind][ext]) return null;
  const accepted = Object.keys(RULES_BY_KIND[kind])
    .map((e) => `.${e}`)
    .join(', ');
  return `Files of type "${ext ? `.${ext}` : 'without an extension'}" are not accepted here; use ${accepted}`;
}

/** The browser's file name without directories, control characters or a leading dot; ≤255. */
export function cleanFileName(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? '';
  const cleaned = base
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .trim()
    .replace(/^\.+/, '');
  return (cleaned || 'file').slice(0, 255);
}

export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/** True when the bytes are UTF-8 text (a BOM allowed) without NUL bytes. */
export function isUtf8Text(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** An SVG document: after an optional XML prolog, comments and doctype, the root is <svg>. */
export function looksLikeSvg(textContent: string): boolean {
  const head = textContent
    .slice(0, 4096)
    .replace(/^\uFEFF/, '')
    .replace(/<\?xml[\s\S]*?\?>/g, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<!DOCTYPE[\s\S]*?>/gi, '')
    .trimStart();
  return /^<svg[\s>]/i.test(head);
}
