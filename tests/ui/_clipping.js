// Loaded before the Flutter web client (CanvasKit renderer): records, for every paragraph
// Flutter lays out, its text and Flutter's own measurement of it, so a test can ask which
// text on screen was cut (more lines than allowed: an ellipsis or a clipped line) or had a
// word broken in two because the word is wider than the room it was given.
(() => {
  const laidOut = new Map();
  window.__fieldappParagraphs = laidOut;
  function watch(canvasKit) {
    const builder = canvasKit.ParagraphBuilder.prototype;
    const paragraph = canvasKit.Paragraph.prototype;
    const addText = builder.addText, build = builder.build;
    const layout = paragraph.layout, release = paragraph.delete;
    builder.addText = function (text) {
      this.__text = (this.__text || "") + text;
      return addText.call(this, text);
    };
    builder.build = function () {
      const made = build.call(this);
      made.__text = this.__text || "";
      return made;
    };
    paragraph.layout = function (width) {
      const result = layout.call(this, width);
      laidOut.set(this, {
        text: this.__text,
        width: width,
        cut: this.didExceedMaxLines(),
        widestWord: this.getMinIntrinsicWidth(),
      });
      return result;
    };
    paragraph.delete = function () {
      laidOut.delete(this);
      return release.call(this);
    };
    window.__fieldappWatching = true;
  }
  let canvasKit;
  Object.defineProperty(window, "flutterCanvasKit", {
    configurable: true,
    get() { return canvasKit; },
    set(value) { canvasKit = value; watch(value); },
  });
})();
