// The players and the chat on a phone: a panel opened over the page (a sheet from the
// bottom held upright, a drawer at the side held sideways) from a button in the HUD, so
// reading them never scrolls the board away and the game goes on beside them. On wider
// screens they sit beside or under the board, the button is not shown and nothing here
// changes what is drawn.

export class SidePanel {
  /**
   * @param {HTMLElement} root    the element whose `side-open` class opens the panel
   * @param {HTMLElement} panel   the players and the chat
   * @param {HTMLElement} toggle  the HUD's button (CSS shows it only where the panel folds)
   * @param {HTMLElement} close   the panel's own close button
   * @param {HTMLElement} unread  the count of chat lines not seen yet, on the toggle
   */
  constructor(root, panel, toggle, close, unread) {
    Object.assign(this, { root, panel, toggle, closeButton: close, unread });
    this.missed = 0;
    toggle.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    close.addEventListener("click", () => this.close());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.isOpen) this.close();
    });
    this.render();
  }

  get isOpen() {
    return this.root.classList.contains("side-open");
  }

  /** Whether the panel folds away here: the page's CSS decides, by the screen. */
  get folds() {
    return getComputedStyle(this.toggle).display !== "none";
  }

  open() {
    this.root.classList.add("side-open");
    this.missed = 0;
    this.render();
  }

  close() {
    this.root.classList.remove("side-open");
    this.render();
    if (this.panel.contains(document.activeElement)) this.toggle.focus();
  }

  /** A chat line arrived: counted on the button while the panel is folded away. */
  sawChat() {
    if (this.folds && !this.isOpen) this.missed += 1;
    this.render();
  }

  render() {
    this.toggle.setAttribute("aria-expanded", String(this.isOpen));
    this.unread.hidden = this.missed === 0;
    this.unread.textContent = String(this.missed);
    this.unread.title = `${this.missed} new chat message${this.missed === 1 ? "" : "s"}`;
  }
}
