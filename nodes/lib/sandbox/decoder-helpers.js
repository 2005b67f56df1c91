// ThingsBoard's helpers for decoders, evaluated as global code in the decoder's sandbox before its body, so
// that a decoder can call them. decodeToString reads the bytes (an array of numbers) as UTF-8, invalid
// sequences becoming U+FFFD, so that a decoder sees the same text the device sent; decodeToJson parses that text.
// Only function declarations here: a top-level let, const or class would not be a property of the global object,
// which the sandbox makes read-only once these are in place.
function decodeToString(bytes) {
  let out = '';
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i++] & 255;
    let cp = 65533;
    let need = 0;
    let min = 0;
    if (b < 128) {
      out += String.fromCharCode(b);
      continue;
    }
    if (b >= 194 && b <= 223) {
      cp = b & 31;
      need = 1;
      min = 128;
    } else if (b >= 224 && b <= 239) {
      cp = b & 15;
      need = 2;
      min = 2048;
    } else if (b >= 240 && b <= 244) {
      cp = b & 7;
      need = 3;
      min = 65536;
    } else {
      out += '\ufffd';
      continue;
    }
    let ok = true;
    for (let k = 0; k < need; k++) {
      const c = bytes[i] & 255;
      if (i >= n || (c & 192) !== 128) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (c & 63);
      i++;
    }
    if (!ok || cp < min || cp > 1114111 || (cp >= 55296 && cp <= 57343)) {
      out += '\ufffd';
      continue;
    }
    out += String.fromCodePoint(cp);
  }
  return out;
}
// biome-ignore lint/correctness/noUnusedVariables: a global of the decoder's sandbox, called by decoders
function decodeToJson(bytes) {
  return JSON.parse(decodeToString(bytes));
}
