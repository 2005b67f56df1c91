// Editor code shared by the dialogs that edit code: the script node and the integration config node. Node-RED
// serves this folder at resources/@rule-engine/node-red-rule-engine/, and each of those nodes' HTML loads this
// file with a <script src> before its own code runs. It holds no words: every text comes from the calling
// node's message catalog.
(() => {
  // Both nodes load the file: the first definition stays.
  if (window.RuleEngineEditor) return;

  /** Shows a result or an error as text, never as HTML: it may hold device-supplied strings. */
  function showResult(el, ok, text) {
    el.text(text).css('color', ok ? '' : 'var(--red-ui-text-color-error, #c00)');
  }

  /** The editor mode of a script language: TBEL is Java-like, so it is highlighted as Java. */
  function modeOf(language) {
    return language === 'tbel' ? 'ace/mode/java' : 'ace/mode/javascript';
  }

  /**
   * A code editor (Monaco) in the element `id`, with `globals` known to its checker, and Node-RED's expand
   * button `expandId`, which opens the same code in the large editor and brings it back on Done. The language
   * is the value of the select `languageSelect` (optional; JavaScript without one): changing it rebuilds the
   * editor in the new mode, keeping the code. Returns {getValue, setValue, resize, destroy}.
   */
  function codeEditor(id, expandId, value, globals, languageSelect) {
    const select = languageSelect ? $(languageSelect) : null;
    const language = () => (select ? select.val() : 'javascript');
    let editor = null;
    const build = (v) => {
      editor = RED.editor.createEditor({ id: id, mode: modeOf(language()), value: v, globals: globals });
    };
    build(value);
    if (select) {
      select.on('change.ruleEngineEditor', () => {
        const v = editor.getValue();
        editor.destroy();
        build(v);
      });
    }
    $(`#${expandId}`).on('click', (e) => {
      e.preventDefault();
      RED.editor.editJavaScript({
        value: editor.getValue(),
        width: 'Infinity',
        mode: modeOf(language()),
        focus: true,
        complete: (v) => {
          editor.setValue(v, -1);
          setTimeout(() => {
            editor.focus();
          }, 250);
        },
      });
    });
    RED.popover.tooltip($(`#${expandId}`), RED._('node-red:common.label.expand'));
    return {
      getValue: () => editor.getValue(),
      setValue: (v, cursor) => editor.setValue(v, cursor),
      resize: () => editor.resize(),
      focus: () => editor.focus(),
      destroy: () => {
        if (select) select.off('change.ruleEngineEditor');
        editor.destroy();
      },
    };
  }

  /** The Test button shows or hides its panel; `onOpen` (optional) runs each time the panel opens. */
  function testToggle(buttonId, panelId, onOpen) {
    const panel = $(`#${panelId}`);
    $(`#${buttonId}`).on('click', (e) => {
      e.preventDefault();
      panel.toggle();
      if (onOpen && panel.is(':visible')) onOpen();
    });
  }

  /**
   * Reads the JSON boxes of a Test panel, [{what, selector, empty}] (`empty`: the JSON an empty box stands
   * for), into {what: value}. The first box that is not JSON is reported with badJson(what, error) in
   * `output`, and the answer is null.
   */
  function readJson(boxes, output, badJson) {
    const out = {};
    for (const box of boxes) {
      try {
        out[box.what] = JSON.parse($(box.selector).val() || box.empty);
      } catch (err) {
        showResult(output, false, badJson(box.what, err.message));
        return null;
      }
    }
    return out;
  }

  /**
   * Posts a test run to an admin route and shows the outcome in `output`: format(r.output) when the code ran,
   * "kind: message" when it failed or the route refused the run (a time limit over the maximum, another run
   * still going, blocked), else a text from `texts`: {running, badReply, failed(status), error (optional: the
   * kind shown when the route names none)}.
   */
  function runTest(output, url, body, texts, format) {
    showResult(output, true, texts.running);
    $.ajax({ url: url, method: 'POST', contentType: 'application/json', data: JSON.stringify(body) })
      .done((r) => {
        if (r?.ok) showResult(output, true, format(r.output));
        else if (r?.error) showResult(output, false, `${r.error.kind}: ${r.error.message}`);
        else showResult(output, false, texts.badReply);
      })
      .fail((xhr) => {
        const error = xhr?.responseJSON?.error;
        if (error && typeof error.message === 'string') {
          const kind = error.kind || texts.error;
          showResult(output, false, kind ? `${kind}: ${error.message}` : error.message);
        } else showResult(output, false, texts.failed(xhr ? xhr.status : 0));
      });
  }

  window.RuleEngineEditor = {
    showResult: showResult,
    codeEditor: codeEditor,
    testToggle: testToggle,
    readJson: readJson,
    runTest: runTest,
  };
})();
