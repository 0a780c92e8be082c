/**
 * Labelled texts from delimited files as they come: CSV or TSV with RFC 4180
 * quoting (a quoted field may hold commas, tabs, quotes and newlines), a
 * header row detected or declared, and the label and text columns picked by
 * name or 0-based index. Several text columns are joined with a space
 * (AG News: `--text-column title,description`).
 *
 * The parsing itself is csv-parse's; this module picks the columns and turns
 * what goes wrong into one line that names the file, the line and the fix.
 *
 * @module
 */

import { parse } from "csv-parse/sync";
import { extname } from "node:path";
import { UserError } from "../spec/errors.ts";
import { readText } from "./files.ts";
import { isBlank, trimWhitespace } from "./text.ts";

/** The delimited formats. */
export const DELIMITED_FORMATS = ["csv", "tsv"] as const;

/** A delimited format: comma- or tab-separated. */
export type DelimitedFormat = typeof DELIMITED_FORMATS[number];

/** Whether the first row names the columns: found out from the data, or declared. */
export type HeaderMode = "auto" | "yes" | "no";

/** Which columns hold what, and how the file is laid out. */
export interface ColumnOptions {
  /** The format; from the file's extension (`.csv`, `.tsv`, `.tab`) unless given. */
  format?: DelimitedFormat;
  /** The label column, a header name or a 0-based index; a label-like header name or 0 unless given. */
  labelColumn?: string;
  /** The text columns, names or 0-based indices; every other column unless given. */
  textColumns?: readonly string[];
  /** Whether the first row is a header; `auto` unless given. */
  header?: HeaderMode;
}

/** One example as read: its label, its text and the line it starts on. */
export interface LabelledRow {
  label: string;
  text: string;
  line: number;
}

/** A delimited file read into labelled rows. */
export interface DelimitedTable {
  rows: LabelledRow[];
  /** The header row's names, when the file has one. */
  header?: string[];
  /** What the reader decided that a user should know (a header row skipped, say). */
  notes: string[];
  /** What looks wrong but does not stop the run. */
  warnings: string[];
}

/** Names a header gives a label column (compared lowercased). */
export const LABEL_COLUMN_NAMES: ReadonlySet<string> = new Set([
  "label",
  "labels",
  "class",
  "category",
  "sentiment",
  "polarity",
  "target",
  "gold_label",
]);

/** Names a header gives a text column (compared lowercased). */
export const TEXT_COLUMN_NAMES: ReadonlySet<string> = new Set([
  "text",
  "sentence",
  "review",
  "document",
  "content",
  "title",
  "description",
  "body",
]);

/** The format of `path`: `format` when given, else its extension's; throws when neither says. */
export function formatOf(path: string, format?: DelimitedFormat): DelimitedFormat {
  if (format !== undefined) return format;
  const ext = extname(path).toLowerCase();
  if (ext === ".csv") return "csv";
  if (ext === ".tsv" || ext === ".tab") return "tsv";
  throw new UserError(
    `cannot tell the format of "${path}" from its extension; pass --format csv or --format tsv`,
  );
}

/** Parses a comma list of columns (`title,description`, `1,2`) as given to `--text-column`. */
export function parseColumnList(value: string): string[] {
  const columns = value.split(",").map((c) => c.trim());
  if (columns.some((c) => c === "")) {
    throw new UserError(
      `--text-column "${value}" has an empty column name; separate names or 0-based indices with commas, e.g. title,description`,
    );
  }
  return columns;
}

/** Reads a delimited file of labelled texts (see {@link parseDelimited}). */
export async function readDelimited(
  path: string,
  options: ColumnOptions = {},
): Promise<DelimitedTable> {
  return parseDelimited(await readText(path), path, options);
}

/**
 * Parses delimited `content` (from `path`, which names it in messages) into
 * labelled rows. Blank rows are skipped; a row too short for the columns
 * asked for, a bad column name or malformed quoting is a {@link UserError}.
 */
export function parseDelimited(
  content: string,
  path: string,
  options: ColumnOptions = {},
): DelimitedTable {
  const format = formatOf(path, options.format);
  const records = parseRecords(content, path, format)
    .filter((record) => !record.cells.every((cell) => isBlank(cell)));
  if (records.length === 0) {
    throw new UserError(`file "${path}" has no examples; add rows with a label and a text column`);
  }
  const notes: string[] = [];
  const warnings: string[] = [];
  const named = [options.labelColumn ?? "", ...(options.textColumns ?? [])].filter((c) =>
    c !== "" && !isIndex(c)
  );
  const mode = options.header ?? "auto";
  if (mode === "no" && named.length > 0) {
    throw new UserError(
      `column "${named[0]}" is a name, but --header no says "${path}" has no header row; ` +
        `pick columns by 0-based index, or drop --header no`,
    );
  }
  const first = records[0];
  const cells = first.cells.map((c) => trimWhitespace(c));
  const headerLike = looksLikeHeader(cells, records, options.labelColumn);
  let header: string[] | undefined;
  if (mode === "yes" || named.length > 0 || (mode === "auto" && headerLike)) {
    header = cells;
    records.shift();
    notes.push(`${path}:${first.line}: read the header row (${cells.join(", ")})`);
  } else if (headerLike) {
    warnings.push(
      `${path}:${first.line}: the first row (${
        cells.join(", ")
      }) looks like a header but is read as an example; drop --header no if it is one`,
    );
  }
  const label = resolveColumn(options.labelColumn ?? defaultLabelColumn(header), header, path);
  const texts = options.textColumns && options.textColumns.length > 0
    ? options.textColumns.map((c) => resolveColumn(c, header, path))
    : undefined;
  const rows: LabelledRow[] = [];
  for (const record of records) {
    const { cells, line } = record;
    // Without text columns named, a row needs the label and at least one other column.
    const wanted = Math.max(label, ...(texts ?? [label === 0 ? 1 : 0]));
    if (cells.length <= wanted) {
      throw new UserError(
        `${path}:${line}: the row has ${cells.length} column${
          cells.length === 1 ? "" : "s"
        }, but column ${wanted} is read; ${
          format === "tsv" ? "separate the columns with a TAB" : "quote fields that hold commas"
        }, or pick other columns with --label-column and --text-column`,
      );
    }
    const textCells = texts ?? cells.map((_, i) => i).filter((i) => i !== label);
    rows.push({
      label: trimWhitespace(cells[label]),
      text: textCells.map((i) => cells[i]).filter((t) => !isBlank(t)).join(" "),
      line,
    });
  }
  if (rows.length === 0) {
    throw new UserError(
      `file "${path}" has no examples; add rows with a label and a text column`,
    );
  }
  return { rows, ...(header ? { header } : {}), notes, warnings };
}

/** One parsed record and the line it starts on. */
interface RawRecord {
  cells: string[];
  line: number;
}

function parseRecords(content: string, path: string, format: DelimitedFormat): RawRecord[] {
  let parsed: { record: string[]; info: { lines: number } }[];
  try {
    parsed = parse(content, {
      delimiter: format === "tsv" ? "\t" : ",",
      relax_column_count: true,
      // A quote inside an unquoted field ("5" screen) is text, as spreadsheets write it.
      relax_quotes: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new UserError(
      `"${path}" is not valid ${format.toUpperCase()} (${
        message.replace(/\s+/g, " ")
      }); close every opened quote and double a quote inside a quoted field ("")`,
    );
  }
  // csv-parse reports the line a record ends on; it starts after the one before.
  let previousEnd = 0;
  return parsed.map(({ record, info }) => {
    const start = previousEnd + 1;
    previousEnd = info.lines;
    return { cells: record, line: start };
  });
}

function isIndex(column: string): boolean {
  return /^[0-9]+$/.test(column);
}

function defaultLabelColumn(header: string[] | undefined): string {
  const i = header?.findIndex((name) => LABEL_COLUMN_NAMES.has(name.toLowerCase())) ?? -1;
  return String(Math.max(i, 0));
}

/** The index of a column given by name (needs a header) or by 0-based index. */
function resolveColumn(column: string, header: string[] | undefined, path: string): number {
  if (isIndex(column)) return Number(column);
  const at = header!.indexOf(column);
  if (at >= 0) return at;
  const folded = header!.findIndex((name) => name.toLowerCase() === column.toLowerCase());
  if (folded >= 0) return folded;
  throw new UserError(
    `"${path}" has no column "${column}" (columns: ${
      header!.map((name, i) => `${i} ${name}`).join(", ")
    }); pass one of these names or a 0-based index`,
  );
}

/**
 * Whether the first row reads as column names: a cell is a known label or
 * text column name, or its label is a word while every other row's label is
 * a number, and in either case that label occurs on no other row.
 */
function looksLikeHeader(
  cells: string[],
  records: readonly RawRecord[],
  labelColumn: string | undefined,
): boolean {
  if (records.length < 2) return false;
  const li = labelColumn !== undefined && isIndex(labelColumn) ? Number(labelColumn) : 0;
  const label = cells[li] ?? "";
  const others = records.slice(1).map((r) => trimWhitespace(r.cells[li] ?? ""));
  if (others.includes(label)) return false;
  const named = cells.some((c) =>
    LABEL_COLUMN_NAMES.has(c.toLowerCase()) || TEXT_COLUMN_NAMES.has(c.toLowerCase())
  );
  const numeric = (s: string) => s !== "" && Number.isFinite(Number(s));
  const wordOverNumbers = !numeric(label) && others.length > 0 && others.every(numeric);
  return named || wordOverNumbers;
}
