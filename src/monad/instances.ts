/**
 * fp-ts type-class instances for tsexec's IO, so `pipe`, `traverse`,
 * `sequenceArray` and friends from fp-ts work on it. Only types come from
 * fp-ts: importing this module loads no fp-ts code.
 */
import type { Functor1 } from "fp-ts/Functor";
import type { Apply1 } from "fp-ts/Apply";
import type { Applicative1 } from "fp-ts/Applicative";
import type { Chain1 } from "fp-ts/Chain";
import type { Monad1 } from "fp-ts/Monad";
import type { ChainRec1 } from "fp-ts/ChainRec";
import type { Pointed1 } from "fp-ts/Pointed";
import type { Either as FpEither } from "fp-ts/Either";
import { bind, map, unit, type IO } from "./io.js";

export const URI = "tsexec/IO";
export type URI = typeof URI;

declare module "fp-ts/HKT" {
  interface URItoKind<A> {
    readonly "tsexec/IO": IO<A>;
  }
}

const _map: Functor1<URI>["map"] = (fa, f) => map(f, fa);
const _ap: Apply1<URI>["ap"] = (fab, fa) => bind(fab, (f) => map(f, fa));
const _chain: Chain1<URI>["chain"] = (fa, f) => bind(fa, f);
const _chainRec: ChainRec1<URI>["chainRec"] = <A, B>(a: A, f: (a: A) => IO<FpEither<A, B>>): IO<B> =>
  bind(f(a), (e) => (e._tag === "Left" ? _chainRec(e.left, f) : unit(e.right)));

export const Functor: Functor1<URI> = { URI, map: _map };
export const Pointed: Pointed1<URI> = { URI, of: unit };
export const Apply: Apply1<URI> = { URI, map: _map, ap: _ap };
export const Applicative: Applicative1<URI> = { URI, map: _map, ap: _ap, of: unit };
export const Chain: Chain1<URI> = { URI, map: _map, ap: _ap, chain: _chain };
export const Monad: Monad1<URI> = { URI, map: _map, ap: _ap, of: unit, chain: _chain };
export const ChainRec: ChainRec1<URI> = { URI, map: _map, ap: _ap, chain: _chain, chainRec: _chainRec };
