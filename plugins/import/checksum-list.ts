// Reads 00_checksums.json as it streams out of the zip, into a ChecksumTable, without ever holding
// the text or a parsed object of it: for a cell of 100,000 files the text alone is about 13 MB,
// and JSON.parse made an object and two strings of every line. A small JSON tokenizer feeds a
// state machine for the one shape the file has, `{"<entry>":{"size":N,"sha256":"<hex>"},...}`;
// any other value of a line is kept as a line that matches no file. Text that is not JSON is
// refused as JSON.parse would have refused it (PR400-CM-0004, with the text's start).
import { StringDecoder } from 'node:string_decoder';
import { personiumError } from '../../core/errors.ts';
import { ChecksumTable, nameKey, type KeySet } from './key-table.ts';

type Token = { type: 'punct'; value: string } | { type: 'string'; value: string } | { type: 'value'; value: unknown };

const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const literalPattern = /true|false|null/y;
const whitespace = /[ \t\n\r]*/y;

/**
 * A whole line as Cellar writes it, `"<name>":{"size":N,"sha256":"<hex>"}`, and the comma after
 * it: read in one match instead of thirteen tokens. The name may hold no control character, as in
 * JSON; its escapes are JSON.parse's to read.
 */
const canonicalLine = /"((?:[^"\\\u0000-\u001f]|\\.)*)":\{"size":(0|[1-9]\d{0,15}),"sha256":"([0-9a-f]{64})"\}(,?)/y;

/** A line read whole (`canonicalLine`), and whether a comma followed it. */
interface WholeLine {
  name: string;
  size: number;
  sha256: string;
  comma: boolean;
}

/** Splits JSON text into tokens as it arrives; a token cut by the end of a chunk waits for the next. */
class Tokenizer {
  #text = '';
  #at = 0;

  /** The line at the reader's place when it is whole in the text so far and written as Cellar writes it; else undefined, with nothing read. */
  wholeLine(): WholeLine | undefined {
    whitespace.lastIndex = this.#at;
    whitespace.test(this.#text);
    canonicalLine.lastIndex = whitespace.lastIndex;
    const match = canonicalLine.exec(this.#text);
    if (!match) return undefined;
    let name = match[1]!;
    if (name.includes('\\')) {
      try {
        name = JSON.parse(`"${name}"`) as string;
      } catch {
        return undefined;
      }
    }
    this.#at = canonicalLine.lastIndex;
    return { name, size: Number(match[2]), sha256: match[3]!, comma: match[4] === ',' };
  }

  push(text: string): void {
    this.#text = this.#text.slice(this.#at) + text;
    this.#at = 0;
  }

  /** The next whole token, undefined when more text is needed (or, at the end, when there is none). */
  next(final: boolean, invalid: () => never): Token | undefined {
    whitespace.lastIndex = this.#at;
    whitespace.test(this.#text);
    this.#at = whitespace.lastIndex;
    const text = this.#text;
    if (this.#at >= text.length) return undefined;
    const char = text[this.#at]!;
    if ('{}[]:,'.includes(char)) {
      this.#at += 1;
      return { type: 'punct', value: char };
    }
    if (char === '"') {
      let end = this.#at + 1;
      for (; end < text.length; end += 1) {
        if (text[end] === '\\') end += 1;
        else if (text[end] === '"') break;
      }
      if (end >= text.length) return final ? invalid() : undefined;
      const raw = text.slice(this.#at, end + 1);
      this.#at = end + 1;
      try {
        return { type: 'string', value: JSON.parse(raw) as string };
      } catch {
        return invalid();
      }
    }
    for (const pattern of [numberPattern, literalPattern]) {
      pattern.lastIndex = this.#at;
      const match = pattern.exec(text);
      if (!match) continue;
      // A number or a word that reaches the end of the text may go on in the next chunk.
      if (pattern.lastIndex >= text.length && !final) return undefined;
      this.#at = pattern.lastIndex;
      return { type: 'value', value: JSON.parse(match[0]) as unknown };
    }
    return final || text.length - this.#at > 8 ? invalid() : undefined;
  }
}

/** Where the reader is in `{"name":{"size":N,"sha256":"..."},...}`. */
type State = 'start' | 'firstKey' | 'key' | 'colon' | 'value' | 'afterValue' | 'innerFirstKey' | 'innerKey' | 'innerColon' | 'innerValue' | 'innerAfterValue' | 'end';

export interface ChecksumList {
  table: ChecksumTable;
  /** The first listed name that is no entry of the zip, if any. */
  missing: string | undefined;
}

/**
 * Reads the checksum list from `chunks`. `names` holds the zip's entries, `capacity` bounds the
 * lines (a list of more lines than the zip has files names a missing entry anyway).
 */
export async function readChecksumList(chunks: AsyncIterable<Buffer>, names: KeySet, capacity: number, entryName: string): Promise<ChecksumList> {
  const decoder = new StringDecoder('utf8');
  const tokens = new Tokenizer();
  const table = new ChecksumTable(capacity);
  let head = '';
  let missing: string | undefined;
  let state: State = 'start';
  let name = '';
  let innerKey = '';
  let line: { size?: unknown; sha256?: unknown } = {};
  /** Depth inside a value that is skipped (an array, or an object nested in a line). */
  let skipping = 0;
  const invalid = (): never => {
    throw personiumError('PR400-CM-0004', head.length > 200 ? `${head.slice(0, 200)}...` : head);
  };
  const endLine = (valid: boolean) => {
    const key = nameKey(name);
    if (missing === undefined && !names.has(key)) missing = name;
    if (table.size >= capacity && !table.has(name)) {
      // More lines than files in the zip: one of them is missing; nothing more needs keeping.
      missing ??= name;
      return;
    }
    table.set(key, valid ? line.size : undefined, valid ? line.sha256 : undefined);
  };
  const take = (token: Token): void => {
    if (skipping > 0) {
      if (token.type === 'punct' && (token.value === '{' || token.value === '[')) skipping += 1;
      else if (token.type === 'punct' && (token.value === '}' || token.value === ']')) skipping -= 1;
      if (skipping === 0) state = state === 'value' ? 'afterValue' : 'innerAfterValue';
      return;
    }
    const punct = token.type === 'punct' ? token.value : undefined;
    switch (state) {
      case 'start':
        if (punct !== '{') throw new NotAnObject();
        state = 'firstKey';
        return;
      case 'firstKey':
      case 'key':
        if (state === 'firstKey' && punct === '}') return void (state = 'end');
        if (token.type !== 'string') return invalid();
        name = token.value;
        state = 'colon';
        return;
      case 'colon':
        if (punct !== ':') return invalid();
        state = 'value';
        return;
      case 'value':
        if (punct === '{') {
          line = {};
          state = 'innerFirstKey';
        } else if (punct === '[') {
          endLine(false);
          skipping = 1;
        } else if (token.type === 'punct') {
          return invalid();
        } else {
          endLine(false);
          state = 'afterValue';
        }
        return;
      case 'afterValue':
        if (punct === ',') state = 'key';
        else if (punct === '}') state = 'end';
        else return invalid();
        return;
      case 'innerFirstKey':
      case 'innerKey':
        if (state === 'innerFirstKey' && punct === '}') {
          endLine(true);
          return void (state = 'afterValue');
        }
        if (token.type !== 'string') return invalid();
        innerKey = token.value;
        state = 'innerColon';
        return;
      case 'innerColon':
        if (punct !== ':') return invalid();
        state = 'innerValue';
        return;
      case 'innerValue':
        if (punct === '{' || punct === '[') {
          if (innerKey === 'size' || innerKey === 'sha256') line[innerKey] = undefined;
          skipping = 1;
        } else if (token.type === 'punct') {
          return invalid();
        } else {
          if (innerKey === 'size' || innerKey === 'sha256') line[innerKey] = token.value;
          state = 'innerAfterValue';
        }
        return;
      case 'innerAfterValue':
        if (punct === ',') state = 'innerKey';
        else if (punct === '}') {
          endLine(true);
          state = 'afterValue';
        } else return invalid();
        return;
      case 'end':
        return invalid();
    }
  };
  /** Takes the lines that are whole and canonical at the reader's place, for as long as there are. */
  const takeWholeLines = (): void => {
    while (skipping === 0 && (state === 'firstKey' || state === 'key')) {
      const whole = tokens.wholeLine();
      if (!whole) return;
      name = whole.name;
      line = { size: whole.size, sha256: whole.sha256 };
      endLine(true);
      state = whole.comma ? 'key' : 'afterValue';
    }
  };
  try {
    for await (const chunk of chunks) {
      const text = decoder.write(chunk);
      if (head.length <= 200) head += text.slice(0, 201 - head.length);
      tokens.push(text);
      takeWholeLines();
      for (let token = tokens.next(false, invalid); token; token = tokens.next(false, invalid)) {
        take(token);
        takeWholeLines();
      }
    }
    tokens.push(decoder.end());
    for (let token = tokens.next(true, invalid); token; token = tokens.next(true, invalid)) take(token);
  } catch (error) {
    if (error instanceof NotAnObject) throw personiumError('PR400-SN-0006', `${entryName} is not an object`);
    throw error;
  }
  if ((state as State) !== 'end') invalid();
  return { table, missing };
}

class NotAnObject extends Error {}
