// The game views by game key. A new game adds its view here.
import { ArenaView } from "./arena.js";
import { arenaCompact } from "./arena_wire.js";
import { ConnectFourView } from "./connect_four.js";

export const VIEWS = { arena: ArenaView, connect_four: ConnectFourView };

/** Decoders of compact state frames (arcade.v1.compact), for games that have them. */
export const COMPACT = { arena: arenaCompact };
