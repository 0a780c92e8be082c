import assert from "node:assert/strict";
import { formatOf, parseColumnList, parseDelimited } from "../../src/data/delimited.ts";
import { UserError } from "../../src/spec/errors.ts";

const rejects = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof UserError && pattern.test(err.message));

Deno.test("delimited: quoted CSV fields keep their commas, tabs, quotes and newlines", () => {
  const csv = 'label,text\npos,"good, really"\nneg,"a\ttab"\npos,"two\nlines"\nneg,"say ""no"""\n';
  const { rows, header } = parseDelimited(csv, "x.csv");
  assert.deepEqual(header, ["label", "text"]);
  assert.deepEqual(rows.map((r) => r.text), ["good, really", "a\ttab", "two\nlines", 'say "no"']);
  // The row after a quoted newline starts one line later.
  assert.deepEqual(rows.map((r) => r.line), [2, 3, 4, 6]);
});

Deno.test("delimited: a quoted TSV field may hold a TAB; a quote inside a field is text", () => {
  const tsv = 'pos\t"one\ttwo"\nneg\tsaid "hi" there\n';
  const { rows } = parseDelimited(tsv, "x.tsv", { header: "no" });
  assert.deepEqual(rows.map((r) => [r.label, r.text]), [
    ["pos", "one\ttwo"],
    ["neg", 'said "hi" there'],
  ]);
});

Deno.test("delimited: columns by name or index; several text columns are joined", () => {
  const csv =
    '"class","title","description"\n"3","Wall St.","Shares rose, again"\n"1","Talks","Resume"\n';
  const byName = parseDelimited(csv, "ag.csv", {
    labelColumn: "class",
    textColumns: ["title", "description"],
  });
  assert.deepEqual(byName.rows.map((r) => [r.label, r.text]), [
    ["3", "Wall St. Shares rose, again"],
    ["1", "Talks Resume"],
  ]);
  const byIndex = parseDelimited(csv, "ag.csv", { labelColumn: "0", textColumns: ["2"] });
  assert.deepEqual(byIndex.rows.map((r) => r.text), ["Shares rose, again", "Resume"]);
});

Deno.test("delimited: the header row is detected, declared, or absent", () => {
  // A known column name, and a label that recurs nowhere else.
  assert.ok(parseDelimited("text,label\ngood,pos\nbad,neg\n", "a.csv").header);
  // A word over numbers in the label column.
  assert.ok(parseDelimited("rating,words\n1,bad\n2,good\n", "b.csv").header);
  // No header: every row is an example.
  const none = parseDelimited("pos,good\nneg,bad\npos,fine\n", "c.csv");
  assert.equal(none.header, undefined);
  assert.equal(none.rows.length, 3);
  // Declared.
  assert.equal(parseDelimited("pos,good\nneg,bad\n", "d.csv", { header: "yes" }).rows.length, 1);
});

Deno.test("delimited: a header-like first row read as data (--header no) is warned about", () => {
  const table = parseDelimited("label,text\npos,good\nneg,bad\n", "e.csv", { header: "no" });
  assert.equal(table.rows.length, 3);
  assert.match(table.warnings[0], /e\.csv:1: the first row \(label, text\) looks like a header/);
});

Deno.test("delimited: the label column defaults to a label-like header name, else 0", () => {
  const { rows } = parseDelimited("text,label\ngood film,pos\nbad film,neg\n", "f.csv");
  assert.deepEqual(rows.map((r) => [r.label, r.text]), [["pos", "good film"], ["neg", "bad film"]]);
});

Deno.test("delimited: a bad column name is one line naming the columns that exist", () => {
  rejects(
    () => parseDelimited("class,title\n1,a\n2,b\n", "g.csv", { textColumns: ["titel"] }),
    /"g\.csv" has no column "titel" \(columns: 0 class, 1 title\)/,
  );
  rejects(
    () => parseDelimited("1,a\n2,b\n", "h.csv", { labelColumn: "class", header: "no" }),
    /column "class" is a name, but --header no says "h\.csv" has no header row/,
  );
});

Deno.test("delimited: short rows, bad quoting and unknown extensions are one line each", () => {
  rejects(() => parseDelimited("pos,a\nneg\n", "i.csv"), /i\.csv:2: the row has 1 column/);
  rejects(() => parseDelimited('pos,"open\n', "j.csv"), /"j\.csv" is not valid CSV/);
  rejects(() => formatOf("data.txt"), /pass --format csv or --format tsv/);
  assert.equal(formatOf("data.txt", "tsv"), "tsv");
  assert.equal(formatOf("DATA.CSV"), "csv");
  rejects(() => parseColumnList("title,,description"), /empty column name/);
  assert.deepEqual(parseColumnList("title, description"), ["title", "description"]);
});
