// The decoded-image record every decoder returns (a leaf: decoders import it, not each other).

export interface DecodedImage {
  /**
   * Uint8Array: 0..255. Uint16Array: 16-bit samples (often only 10-14 bits used).
   * Float32Array: DICOM grayscale, already windowed (Window Center/Width, else its data range) to [0, 1].
   */
  data: Uint8Array | Uint16Array | Float32Array;
  width: number;
  height: number;
  channels: 1 | 3;
  /** Bits per sample in the source (8, 16, or DICOM BitsStored). */
  bitDepth: number;
  format: string;
  path: string;
  /**
   * DICOM grayscale only: the modality-value range (after Rescale Slope/Intercept) that was mapped
   * to [0, 1]. With Window Center/Width in the file, also `center`, `width` and `voiFunction`
   * (values below min are 0, above max 1; SIGMOID has no hard edges, min/max are center ∓ width/2);
   * without them, the frame's data range.
   */
  window?: { min: number; max: number; center?: number; width?: number; voiFunction?: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID' };
}
