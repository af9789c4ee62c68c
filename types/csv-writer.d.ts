// csv-writer's package.json points "types" at its TypeScript sources, which this project's strict
// ESM settings reject; tsconfig maps the module here instead. Only the API refinery uses is declared.
declare module 'csv-writer' {
  export interface ObjectHeaderItem {
    id: string;
    title: string;
  }
  export interface ObjectCsvStringifierParams {
    header: ObjectHeaderItem[] | string[];
    fieldDelimiter?: string;
    recordDelimiter?: string;
    headerIdDelimiter?: string;
    alwaysQuote?: boolean;
  }
  export interface ObjectCsvStringifier {
    getHeaderString(): string | null;
    stringifyRecords(records: Iterable<Record<string, unknown>>): string;
  }
  export function createObjectCsvStringifier(params: ObjectCsvStringifierParams): ObjectCsvStringifier;
}
