// Google Cloud label rules (NOTES.md §4): at most 64 labels; keys 1–63 characters starting with a
// lowercase letter (international lowercase letters allowed); keys and values only lowercase
// letters, digits, `_` and `-`; values 0–63 characters.
import { invalidField, type GceError } from './errors.js';

export const MAX_LABELS = 64;
const KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;

/** The first rule broken by `labels`, as Compute words it, or undefined. `field` e.g. `resource.labels`. */
export function checkLabels(labels: Record<string, string>, field: string): GceError | undefined {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    return invalidField(field, '', `Too many labels: ${entries.length}. A resource can have at most ${MAX_LABELS} labels.`);
  }
  for (const [key, value] of entries) {
    if (!KEY.test(key)) {
      return invalidField(
        field,
        '',
        `Label key '${key}' violates format constraints. The key must start with a lowercase character, can only contain lowercase letters, numeric characters, underscores and dashes. The key can be at most 63 characters long. International characters are allowed.`,
      );
    }
    if (!VALUE.test(value)) {
      return invalidField(
        field,
        '',
        `Label value '${value}' violates format constraints. The value can only contain lowercase letters, numeric characters, underscores and dashes. The value can be at most 63 characters long. International characters are allowed.`,
      );
    }
  }
  return undefined;
}
