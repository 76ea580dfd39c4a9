// tools/bpf/bpftool/json_writer.c: bpftool's streaming JSON writer, with its exact spacing. Every `-j`
// output of bpftool goes through it, so its quirks are part of the output format and are kept:
//  - pretty output indents by 4 spaces and breaks the line before each name and before a closing
//    bracket, but not before array elements (`"map_ids": [1,2,3\n    ]`);
//  - jsonw_printf() writes raw text (numbers, pre-quoted strings), jsonw_vprintf_enquote() quotes
//    without escaping (bpftool's error messages), jsonw_puts() escapes, where bpftool v7.1 turns a
//    backslash into `\n` and leaves a single quote alone;
//  - a name with no value after it (a command that printed nothing) leaves `"output":}` behind.

/** Where the writer's text goes: bpftool's stdout. */
export interface TextSink {
  write(s: string): void;
}

/** The assertion bpftool's jsonw_destroy() makes; a JSON stream closed inside a structure aborts. */
export class JsonDepthAssertion extends Error {
  constructor() {
    super("bpftool: json_writer.c:107: jsonw_destroy: Assertion `self->depth == 0' failed.");
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '\t': '\\t', '\n': '\\n', '\r': '\\r', '\f': '\\f', '\b': '\\b',
  // json_writer.c of this bpftool maps '\\' to "\\n" (a typo fixed upstream later); the output keeps it.
  '\\': '\\n', '"': '\\"',
};

export class JsonWriter {
  private depth = 0;
  private pretty = false;
  /** Either '' or ','. */
  private sep = '';

  constructor(private readonly out: TextSink) {}

  setPretty(on: boolean): void {
    this.pretty = on;
  }

  /** jsonw_reset(): forget the separator, to start a new top-level value on the same stream. */
  reset(): void {
    this.sep = '';
  }

  get nesting(): number {
    return this.depth;
  }

  /** jsonw_destroy(): the final newline; throws the assertion bpftool aborts with when still nested. */
  destroy(): void {
    if (this.depth !== 0) throw new JsonDepthAssertion();
    this.out.write('\n');
  }

  private indent(): void {
    if (this.depth > 0) this.out.write('    '.repeat(this.depth));
  }

  private eol(): void {
    if (!this.pretty) return;
    this.out.write('\n');
    this.indent();
  }

  private eor(): void {
    if (this.sep !== '') this.out.write(this.sep);
    this.sep = ',';
  }

  private puts(s: string): void {
    let q = '"';
    for (const c of s) q += ESCAPES[c] ?? c;
    this.out.write(`${q}"`);
  }

  private begin(c: string): void {
    this.eor();
    this.out.write(c);
    this.depth++;
    this.sep = '';
  }

  private end(c: string): void {
    if (this.depth === 0) throw new Error('BUG: JSON writer closed more than it opened');
    this.depth--;
    if (this.sep !== '') this.eol();
    this.out.write(c);
    this.sep = ',';
  }

  name(name: string): void {
    this.eor();
    this.eol();
    this.sep = '';
    this.puts(name);
    this.out.write(this.pretty ? ': ' : ':');
  }

  /** jsonw_printf(): raw text as one value. */
  printf(raw: string): void {
    this.eor();
    this.out.write(raw);
  }

  /** jsonw_vprintf_enquote(): raw text in quotes, not escaped. */
  enquote(raw: string): void {
    this.eor();
    this.out.write(`"${raw}"`);
  }

  startObject(): void {
    this.begin('{');
  }

  endObject(): void {
    this.end('}');
  }

  startArray(): void {
    this.begin('[');
  }

  endArray(): void {
    this.end(']');
  }

  string(value: string): void {
    this.eor();
    this.puts(value);
  }

  bool(value: boolean): void {
    this.printf(value ? 'true' : 'false');
  }

  null(): void {
    this.printf('null');
  }

  /** jsonw_uint / jsonw_int / jsonw_lluint: the decimal text of an integer. */
  number(n: number | bigint): void {
    this.printf(String(n));
  }

  stringField(prop: string, value: string): void {
    this.name(prop);
    this.string(value);
  }

  boolField(prop: string, value: boolean): void {
    this.name(prop);
    this.bool(value);
  }

  numberField(prop: string, n: number | bigint): void {
    this.name(prop);
    this.number(n);
  }

  nullField(prop: string): void {
    this.name(prop);
    this.null();
  }
}
