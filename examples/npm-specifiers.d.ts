// Types for the npm: specifiers the examples import (tsc does not resolve `npm:` itself).
declare module "npm:picocolors@^1.1.0" {
  type Color = (text: string) => string;
  const pc: { green: Color; red: Color; bold: Color; dim: Color };
  export default pc;
}
declare module "npm:semver@^7.6.0" {
  const semver: { satisfies(version: string, range: string): boolean };
  export default semver;
}
