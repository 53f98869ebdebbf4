// The game views by game key. A new game adds its view here.
import { ArenaView } from "./arena.js";
import { ConnectFourView } from "./connect_four.js";

export const VIEWS = { arena: ArenaView, connect_four: ConnectFourView };
