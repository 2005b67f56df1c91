// Editor code shared by the dialogs that edit code: the script nodes (script, script filter, script switch) and the
// integration config node. Node-RED serves this folder at resources/@rule-engine/node-red-rule-engine/, and each
// of those nodes' HTML loads this
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

  const row = () => $('<div class="form-row"></div>');

  /**
   * The rows every script node's dialog starts with, bound by Node-RED to the node's settings: name, time limit,
   * language, and the script (hidden: the code editor holds it while the dialog is open). Texts by catalog key
   * (data-i18n), from the node's catalog `ns`.
   */
  function settingRows(ns) {
    const i18nKey = (key) => `${ns}.${key}`;
    const label = (field, icon, key) =>
      $('<label></label>')
        .attr('for', `node-input-${field}`)
        .append($('<i></i>').addClass(`fa ${icon}`), ' ', $('<span></span>').attr('data-i18n', key));
    const input = (field) => $('<input type="text">').attr('id', `node-input-${field}`);
    const option = (language, key) => $('<option></option>').val(language).attr('data-i18n', key);
    return [
      row().append(
        label('name', 'fa-tag', 'node-red:common.label.name'),
        input('name').attr('data-i18n', '[placeholder]node-red:common.label.name'),
      ),
      row().append(
        label('timeout', 'fa-clock-o', i18nKey('label.timeout')),
        input('timeout').css('width', '80px'),
        ' ',
        $('<span></span>').attr('data-i18n', i18nKey('label.ms')),
      ),
      row().append(
        label('language', 'fa-language', i18nKey('label.language')),
        $('<select id="node-input-language"></select>')
          .css('width', '180px')
          .append(option('javascript', i18nKey('language.javascript')), option('tbel', i18nKey('language.tbel'))),
      ),
      $('<input type="hidden" id="node-input-script">'),
    ];
  }

  /**
   * Puts settingRows in front of the node's own edit template, which Node-RED copies into the dialog each time
   * it opens it (so Node-RED binds them as it binds the template's own fields). Node-RED adds a node set's
   * templates together with its editor code: if the template is not there yet, this runs once it is.
   */
  function extendTemplate(type, ns) {
    const fill = () => {
      const template = $(`script[data-template-name="${type}"]`);
      if (template.length === 0) return false;
      const rows = settingRows(ns).map((r) => r.prop('outerHTML'));
      template.html(`${rows.join('\n')}\n${template.html()}`);
      return true;
    };
    if (!fill()) setTimeout(fill, 0);
  }

  /**
   * The rows of a script node's code, in place of `area`: `function (msg, metadata, msgType) {`, the code
   * editor #node-input-script-editor with Node-RED's expand button #node-script-expand-js, and `}`; then the
   * Test button and panel, with ids `<id>-test-...` and texts from the node's catalog: msg, metadata and msgType
   * boxes, Run, Load last message, and the output.
   */
  function buildScriptRows(area, id, text) {
    const head = row().css('margin-bottom', '0');
    $('<label></label>')
      .append('<i class="fa fa-code"></i> ', $('<span></span>').text(text('label.script')))
      .appendTo(head);
    head.append($('<code></code>').text('function (msg, metadata, msgType) {'));
    const editor = $('<div class="form-row node-text-editor-row" style="position: relative"></div>');
    $('<div style="position: absolute; right: 0; bottom: calc(100% + 3px)"></div>')
      .append(
        '<button type="button" id="node-script-expand-js" class="red-ui-button red-ui-button-small"><i class="fa fa-expand"></i></button>',
      )
      .appendTo(editor);
    editor.append(
      '<div style="height: 250px; min-height: 120px" class="node-text-editor" id="node-input-script-editor"></div>',
    );
    const tail = row().append($('<code></code>').text('}'));
    area.replaceWith(head, editor, tail, buildTestPanel(id, text));
  }

  /** The Test button and its panel, hidden until the button opens it (see buildScriptRows). */
  function buildTestPanel(id, text) {
    const area = $('<div></div>');
    // Each text by its full key (`label`): the catalog test finds the keys this file uses by them.
    const box = (what, label, rows) => {
      const r = row();
      const boxId = `${id}-test-${what}`;
      $('<label></label>').attr('for', boxId).text(label).appendTo(r);
      const el = rows ? $('<textarea></textarea>').attr('rows', rows) : $('<input type="text">');
      el.attr('id', boxId)
        .css({ width: '70%', 'font-family': rows ? 'monospace' : '' })
        .appendTo(r);
      return r;
    };
    const button = (what, label) =>
      $('<button type="button" class="red-ui-button"></button>')
        .attr('id', `${id}-test-${what}`)
        .append($('<span></span>').text(label));
    row()
      .append(button('toggle', text('test.button')).prepend('<i class="fa fa-play"></i> '))
      .appendTo(area);
    const panel = $('<div></div>').attr('id', `${id}-test-panel`).hide().appendTo(area);
    panel.append(
      box('msg', text('test.msg'), 5),
      box('metadata', text('test.metadata'), 4),
      box('msgtype', text('test.msgType'), 0),
    );
    row()
      .append('<label>&nbsp;</label>', button('run', text('test.run')), ' ', button('load', text('test.load')))
      .append($('<span></span>').attr('id', `${id}-test-source`).css({ 'margin-left': '8px', 'font-style': 'italic' }))
      .appendTo(panel);
    const out = $('<pre></pre>').attr('id', `${id}-test-output`).css({
      width: '70%',
      display: 'inline-block',
      'max-height': '200px',
      overflow: 'auto',
      'white-space': 'pre-wrap',
    });
    row()
      .append($('<label></label>').text(text('test.output')), out)
      .appendTo(panel);
    return area.children();
  }

  /**
   * What the definitions of the nodes whose code is the body of `function (msg, metadata, msgType)` share: the
   * script node, the script filter, the script switch. Spread into the node's RED.nodes.registerType (which
   * names its category itself, where tools that read definitions without running the editor find it): the
   * settings (name, language, script, time limit; `opts.defaults` adds the node's own), one
   * input, the labels from the node's catalog, and the editing. Extends the node's edit template with
   * settingRows; the template holds an empty #<type>-code-area, which becomes the code editor and the Test panel
   * (buildScriptRows). `type`: the node's type, `rule-<ns>` where <ns> names its catalog and its admin routes
   * (rule-engine/<ns>/...); `defaultScript`; `opts`: {format(output): the text a Test output shows; optional:
   * defaults, request(): more fields of a Test request, prepare(node) and save(node): the dialog's own fields,
   * before the code editor is built and on Done}.
   */
  function scriptNode(type, defaultScript, options) {
    const opts = Object.assign({ type: type, ns: type.replace(/^rule-/, ''), defaultScript: defaultScript }, options);
    extendTemplate(opts.type, opts.ns);
    const i18nKey = (key) => `${opts.ns}.${key}`;
    const close = (node, save) => {
      if (save) $('#node-input-script').val(node.editor.getValue());
      node.editor.destroy();
      delete node.editor;
    };
    return {
      defaults: Object.assign(
        {
          name: { value: '' },
          language: { value: 'javascript' },
          script: { value: opts.defaultScript, required: true },
          timeout: { value: 500, required: true, validate: RED.validators.number() },
        },
        opts.defaults,
      ),
      inputs: 1,
      label: function () {
        return this.name || this._(i18nKey('paletteLabel'));
      },
      paletteLabel: function () {
        return this._(i18nKey('paletteLabel'));
      },
      labelStyle: function () {
        return this.name ? 'node_label_italic' : '';
      },
      oneditprepare: function () {
        if (opts.prepare) opts.prepare(this);
        prepareScriptDialog(this, opts);
      },
      oneditsave: function () {
        if (opts.save) opts.save(this);
        close(this, true);
      },
      oneditcancel: function () {
        close(this, false);
      },
      // The code editor takes the height the dialog's other rows leave.
      oneditresize: function (size) {
        const rows = $('#dialog-form>div:not(.node-text-editor-row)');
        let height = size.height;
        for (let i = 0; i < rows.length; i++) height -= $(rows[i]).outerHeight(true);
        $('#node-input-script-editor').css('height', `${Math.max(height - 20, 120)}px`);
        this.editor.resize();
      },
    };
  }

  /** The code editor (node.editor) and the Test panel of a script node's dialog (see scriptNode). */
  function prepareScriptDialog(node, opts) {
    const text = (key, vars) => node._(`${opts.ns}.${key}`, vars);
    const id = opts.type;
    buildScriptRows($(`#${id}-code-area`), id, text);
    // Flows saved before the language setting existed are JavaScript.
    $('#node-input-language').val(node.language === 'tbel' ? 'tbel' : 'javascript');
    node.editor = codeEditor(
      'node-input-script-editor',
      'node-script-expand-js',
      $('#node-input-script').val() || opts.defaultScript,
      { msg: true, metadata: true, msgType: true },
      '#node-input-language',
    );
    const output = $(`#${id}-test-output`);
    const failed = (status) => text('test.failed', { status: status });
    function loadSample() {
      $.getJSON(`rule-engine/${opts.ns}/sample/${encodeURIComponent(node.id)}`)
        .done((r) => {
          $(`#${id}-test-msg`).val(JSON.stringify(r.sample.msg, null, 2));
          $(`#${id}-test-metadata`).val(JSON.stringify(r.sample.metadata, null, 2));
          $(`#${id}-test-msgtype`).val(r.sample.msgType);
          $(`#${id}-test-source`).text(text(`test.source-${r.source}`));
        })
        .fail((xhr) => showResult(output, false, failed(xhr.status)));
    }
    testToggle(`${id}-test-toggle`, `${id}-test-panel`, () => {
      if (!$(`#${id}-test-msg`).val()) loadSample();
    });
    $(`#${id}-test-load`).on('click', (e) => {
      e.preventDefault();
      loadSample();
    });
    $(`#${id}-test-run`).on('click', (e) => {
      e.preventDefault();
      const input = readJson(
        [
          { what: 'msg', selector: `#${id}-test-msg`, empty: 'null' },
          { what: 'metadata', selector: `#${id}-test-metadata`, empty: '{}' },
        ],
        output,
        (_what, error) => text('test.badJson', { error: error }),
      );
      if (!input) return;
      const body = {
        id: node.id,
        script: node.editor.getValue(),
        language: $('#node-input-language').val(),
        msg: input.msg,
        metadata: input.metadata,
        msgType: $(`#${id}-test-msgtype`).val(),
        timeout: $('#node-input-timeout').val(),
      };
      runTest(
        output,
        `rule-engine/${opts.ns}/test`,
        Object.assign(body, opts.request ? opts.request() : {}),
        { running: text('test.running'), badReply: text('test.badReply'), failed: failed },
        opts.format,
      );
    });
  }

  window.RuleEngineEditor = {
    showResult: showResult,
    codeEditor: codeEditor,
    testToggle: testToggle,
    readJson: readJson,
    runTest: runTest,
    scriptNode: scriptNode,
  };
})();
