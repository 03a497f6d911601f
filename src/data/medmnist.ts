/** MedMNIST v2 / MedMNIST+ .npz archives: {train,val,test}_{images,labels}. */
import { basename } from 'node:path';
import { NpzArchive } from './npz.ts';
import { npyToNumbers } from './npy.ts';
import { SPLITS, type SplitName } from './split.ts';

/**
 * Class names of the single-label MedMNIST v2 2D datasets (medmnist INFO tables), by file stem.
 * chestmnist is multi-label and not listed. BreastMNIST's class 1 is "normal, benign" upstream;
 * written "normal+benign" here so names stay comma-free in CSV/report output.
 */
const ORGAN = ['bladder', 'femur-left', 'femur-right', 'heart', 'kidney-left', 'kidney-right', 'liver', 'lung-left', 'lung-right', 'pancreas', 'spleen'];
export const MEDMNIST_CLASSES: Readonly<Record<string, readonly string[]>> = {
  pneumoniamnist: ['normal', 'pneumonia'],
  breastmnist: ['malignant', 'normal+benign'],
  pathmnist: ['adipose', 'background', 'debris', 'lymphocytes', 'mucus', 'smooth muscle', 'normal colon mucosa',
    'cancer-associated stroma', 'colorectal adenocarcinoma epithelium'],
  dermamnist: ['actinic keratoses and intraepithelial carcinoma', 'basal cell carcinoma', 'benign keratosis-like lesions',
    'dermatofibroma', 'melanoma', 'melanocytic nevi', 'vascular lesions'],
  octmnist: ['choroidal neovascularization', 'diabetic macular edema', 'drusen', 'normal'],
  retinamnist: ['0', '1', '2', '3', '4'], // ordinal DR grades
  bloodmnist: ['basophil', 'eosinophil', 'erythroblast', 'immature granulocytes(myelocytes, metamyelocytes and promyelocytes)',
    'lymphocyte', 'monocyte', 'neutrophil', 'platelet'],
  tissuemnist: ['Collecting Duct, Connecting Tubule', 'Distal Convoluted Tubule', 'Glomerular endothelial cells',
    'Interstitial endothelial cells', 'Leukocytes', 'Podocytes', 'Proximal Tubule Segments', 'Thick Ascending Limb'],
  organamnist: ORGAN, organcmnist: ORGAN, organsmnist: ORGAN,
};

export interface ImageArraySplit {
  /** uint8, N×H×W×C row-major (C = 1 for grayscale archives). */
  images: Uint8Array;
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: 1 | 3;
}

export interface MedMNISTData {
  path: string;
  /** File stem without the MedMNIST+ size suffix, e.g. 'pneumoniamnist' for pneumoniamnist_64.npz. */
  name: string;
  classNames: string[];
  splits: Record<SplitName, ImageArraySplit>;
  archive: NpzArchive;
}

/** 'pneumoniamnist_128.npz' → {name: 'pneumoniamnist', size: 128}. */
export function medmnistStem(path: string): { name: string; size?: number } {
  const stem = basename(path).replace(/\.npz$/i, '').toLowerCase();
  const m = /^(.*?)_(\d+)$/.exec(stem);
  return m ? { name: m[1], size: Number(m[2]) } : { name: stem };
}

export interface LoadMedMNISTOptions {
  /** Override or supply class names (required knowledge for archives not in MEDMNIST_CLASSES). */
  classNames?: string[];
}

export async function loadMedMNIST(path: string, opts: LoadMedMNISTOptions = {}): Promise<MedMNISTData> {
  const archive = await NpzArchive.open(path);
  return medmnistFromArchive(archive, opts);
}

export function medmnistFromArchive(archive: NpzArchive, opts: LoadMedMNISTOptions = {}): MedMNISTData {
  const path = archive.path;
  const { name } = medmnistStem(path);
  if (name === 'chestmnist') throw multiLabel(path, 'chestmnist (14 findings per image)');
  if (!archive.has('train_images') || !archive.has('train_labels')) {
    throw new Error(`${path}: not a MedMNIST-style archive: needs train_images and train_labels (has: ${archive.keys.join(', ')})`);
  }
  const splits = {} as Record<SplitName, ImageArraySplit>;
  let maxLabel = -1;
  for (const s of SPLITS) {
    if (!archive.has(`${s}_images`) && !archive.has(`${s}_labels`)) { splits[s] = emptySplit(); continue; }
    splits[s] = readSplit(archive, s);
    for (const l of splits[s].labels) if (l > maxLabel) maxLabel = l;
  }
  const t = splits.train;
  for (const s of SPLITS) {
    const x = splits[s];
    if (x.n > 0 && (x.height !== t.height || x.width !== t.width || x.channels !== t.channels)) {
      throw new Error(`${path}: ${s}_images are ${x.height}x${x.width}x${x.channels} but train_images are ${t.height}x${t.width}x${t.channels}`);
    }
  }
  const known = Object.hasOwn(MEDMNIST_CLASSES, name) ? MEDMNIST_CLASSES[name] : undefined;
  if (!opts.classNames && !known && maxLabel >= MAX_UNNAMED_CLASSES) {
    throw new Error(`${path}: label ${maxLabel} found and the archive's classes are not known; ` +
      `labels must be class indices 0..${MAX_UNNAMED_CLASSES - 1} here, or pass classNames for this archive`);
  }
  const classNames = opts.classNames ?? (known ? [...known] : Array.from({ length: maxLabel + 1 }, (_, i) => String(i)));
  if (maxLabel >= classNames.length) {
    throw new Error(`${path}: label ${maxLabel} found but only ${classNames.length} class names (${classNames.join(', ')}); ` +
      'pass the right classNames for this archive');
  }
  return { path, name, classNames, splits, archive };
}

/** Unknown archives get classes '0'..'max label'; a label past this is corruption, not a class. */
const MAX_UNNAMED_CLASSES = 10000;

function emptySplit(): ImageArraySplit {
  return { images: new Uint8Array(0), labels: new Int32Array(0), n: 0, height: 0, width: 0, channels: 1 };
}

function multiLabel(path: string, what: string): Error {
  return new Error(`${path}: multi-label archive (${what}); meddiff needs exactly one class per image. ` +
    'Derive a single-label task first (e.g. one finding vs. no finding) and save it as a new .npz');
}

function readSplit(z: NpzArchive, s: SplitName): ImageArraySplit {
  const img = z.get(`${s}_images`), lab = z.get(`${s}_labels`);
  const where = `${z.path} entry '${s}_images.npy'`;
  if (img.dtype !== '|u1') throw new Error(`${where}: images must be uint8, got ${img.dtype}; convert with (x*255).round().astype(np.uint8)`);
  const sh = img.shape;
  let channels: 1 | 3;
  if (sh.length === 3) channels = 1;
  else if (sh.length === 4 && (sh[3] === 1 || sh[3] === 3)) channels = sh[3] as 1 | 3;
  else throw new Error(`${where}: expected shape (N, H, W) or (N, H, W, 3), got (${sh.join(', ')})`);
  const n = sh[0];
  if (sh.some((d) => d === 0) && n !== 0) throw new Error(`${where}: image shape (${sh.join(', ')}) has an empty dimension`);
  const ls = lab.shape;
  if (ls.length === 2 && ls[1] > 1) throw multiLabel(z.path, `${s}_labels has shape (${ls.join(', ')})`);
  if (ls.length === 0 || ls.length > 2 || ls[0] !== n) {
    throw new Error(`${z.path} entry '${s}_labels.npy': expected shape (${n},) or (${n}, 1) to match ${n} images, got (${ls.join(', ')})`);
  }
  const raw = npyToNumbers(lab, `${z.path} entry '${s}_labels.npy'`);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = raw[i];
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new Error(`${z.path} entry '${s}_labels.npy': label at index ${i} is ${v}; labels must be class indices 0, 1, ...`);
    labels[i] = v;
  }
  return { images: img.data as Uint8Array, labels, n, height: sh[1], width: sh[2], channels };
}
