// Tests read many JSON answers and assert on their shape; `any` keeps those reads short.
declare global {
  interface Response {
    json(): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  }
}
export {};
