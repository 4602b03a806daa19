/** The key of a document's indexing job: one active at a time, and found again to cancel it. */
export function indexJobKey(documentId: string): string {
  return `${documentId}:index`;
}
