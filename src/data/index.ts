/** Data loading for meddiff: archives, image files, DICOM, splits and batch streams. */
export { Rng, hashSeed, type RngState } from '../util/index.ts';
export { parseNpy, parseNpyHeader, npyToNumbers, writeNpy, type NpyArray, type NpyDtype, type NpyData, type NpyHeader } from './npy.ts';
export { NpzArchive, readNpz, writeNpz, type NpzEntryInfo } from './npz.ts';
export { loadMedMNIST, medmnistFromArchive, medmnistStem, MEDMNIST_CLASSES, type MedMNISTData, type ImageArraySplit, type LoadMedMNISTOptions } from './medmnist.ts';
export { decodeImage, decodeImageBytes, decodeDicom, IMAGE_EXTENSIONS, DICOM_UNCOMPRESSED, MAX_IMAGE_PIXELS, type DecodedImage, type DicomWindowRule } from './decode.ts';
export {
  preprocessImage, preprocessU8, loadImageFile, padCenter, toUnitRange, convertChannels, unitToSigned, resizeUnit,
  type FitMode, type ArrayResize, type PreprocessOptions, type ArrayPreprocessOptions,
} from './preprocess.ts';
export { scanImageFolder, type FileListing, type LabeledFile, type ScanOptions } from './folder.ts';
export { readCsvManifest, parseCsv, parseCsvFilters, type CsvColumns, type CsvOptions, type CsvRecord } from './csv.ts';
export { stratifiedSplit, groupedStratifiedSplit, balanceIndices, classCounts, parseSplitName, SPLITS, type SplitName, type SplitOptions, type BalanceMode } from './split.ts';
export {
  openDataset, detectKind, stackSplit,
  type Dataset, type DataSplit, type DatasetSpec, type OpenDatasetOptions, type Sample, type SkippedFile, type SourceKind, type StackedSplit,
} from './dataset.ts';
export { BatchStream, type Batch, type BatchPosition, type BatchSource, type BatchStreamOptions } from './batches.ts';
export {
  mirrorSome, shiftSome, flipVerticalSome, rotateSome, gaussianBlurSome, gaussianKernel1d, augmentBatch, validateBaselineAugment,
  DEFAULT_BASELINE_AUGMENT, ROTATION_FILL, type BaselineAugment, type BaselineAugmentInput, type BlurAugment,
} from './augment.ts';
export { loadMask, loadMasks, csvMaskPaths, DEFAULT_MASK_THRESHOLD, type MaskGeometry, type LoadMaskOptions, type LoadedMasks } from './mask.ts';
