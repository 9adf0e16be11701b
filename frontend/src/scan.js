// Barcode input for the pharmacy: decode an uploaded image or the camera with @zxing/library.
// The library is loaded on first use only, so the pharmacy view's first load stays small.
import { ScanError } from './gs1.js';

async function zxing() {
  const lib = await import('@zxing/library');
  const hints = new Map([
    [lib.DecodeHintType.POSSIBLE_FORMATS, [lib.BarcodeFormat.DATA_MATRIX, lib.BarcodeFormat.QR_CODE]],
    [lib.DecodeHintType.TRY_HARDER, true],
  ]);
  return { lib, hints };
}

/** Text of the DataMatrix (or QR) in an image File; ScanError when there is none. */
export async function decodeImageFile(file) {
  if (!file) throw new ScanError('No image was chosen.');
  if (!/^image\//.test(file.type)) throw new ScanError(`"${file.name}" is not an image (${file.type || 'unknown type'}).`);
  const { lib, hints } = await zxing();
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    try { await img.decode(); } catch { throw new ScanError(`"${file.name}" could not be opened as an image.`); }
    const reader = new lib.BrowserMultiFormatReader(hints);
    try {
      return (await reader.decodeFromImageElement(img)).getText();
    } catch (e) {
      if (e instanceof lib.NotFoundException || e?.name === 'NotFoundException') {
        throw new ScanError(`No DataMatrix or QR code was found in "${file.name}". Try a sharper, closer photo.`);
      }
      throw new ScanError(`The barcode in "${file.name}" could not be read (${e?.message || e}).`);
    }
  } finally {
    URL.revokeObjectURL(url);
  }
}

/**
 * Start the camera in `video`; calls onText(text) on the first code read and stops. Returns a
 * stop() function. Throws ScanError when no camera can be used (none, refused, insecure page).
 */
export async function startCamera(video, onText) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new ScanError('This browser offers no camera here (camera access needs https or localhost). Paste the code or upload a photo instead.');
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  } catch (e) {
    const why = e?.name === 'NotAllowedError' ? 'camera permission was refused'
      : e?.name === 'NotFoundError' ? 'no camera was found' : (e?.message || String(e));
    throw new ScanError(`Cannot use the camera: ${why}. Paste the code or upload a photo instead.`);
  }
  const { lib, hints } = await zxing();
  const reader = new lib.BrowserMultiFormatReader(hints, 200);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    reader.reset();
    for (const t of stream.getTracks()) t.stop();
  };
  reader.decodeFromStream(stream, video, (result) => {
    if (result && !stopped) {
      stop();
      onText(result.getText());
    }
  }).catch(() => stop());
  return stop;
}
