/*
 * IJG helper for scripts/make-jpeg12-fixtures.ts (not part of meddiff): encodes raw samples with
 * restart markers / several scans / chosen sampling factors, which dcmcjpeg cannot ask for, and
 * decodes without colour conversion and with replication upsampling (do_fancy_upsampling = FALSE),
 * the output meddiff's decodeJpegExtended promises. Built twice: -DIJG12 against DCMTK's 12-bit
 * libijg12 (headers from the DCMTK 3.6.7 source tree), and against the system 8-bit libjpeg.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef IJG12
#include "jpeglib12.h"
#else
#include <jpeglib.h>
#endif

static int enc(int argc, char **argv) {
  /* enc W H C quality restartMCUs hv,hv,... multiscan in.raw out.jpg */
  int W = atoi(argv[2]), H = atoi(argv[3]), C = atoi(argv[4]), q = atoi(argv[5]), rst = atoi(argv[6]);
  const char *samp = argv[7]; int multi = atoi(argv[8]);
  struct jpeg_compress_struct ci; struct jpeg_error_mgr jerr;
  FILE *in = fopen(argv[9], "rb"), *out = fopen(argv[10], "wb");
  size_t n = (size_t)W * H * C; JSAMPLE *buf = malloc(n * sizeof(JSAMPLE));
  for (size_t i = 0; i < n; i++) {
    int lo = fgetc(in);
#ifdef IJG12
    int hi = fgetc(in); buf[i] = (JSAMPLE)(lo | (hi << 8));
#else
    buf[i] = (JSAMPLE)lo;
#endif
  }
  ci.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&ci);
  jpeg_stdio_dest(&ci, out);
  ci.image_width = W; ci.image_height = H; ci.input_components = C;
  ci.in_color_space = C == 1 ? JCS_GRAYSCALE : C == 3 ? JCS_YCbCr : JCS_UNKNOWN;
  jpeg_set_defaults(&ci);
  jpeg_set_colorspace(&ci, ci.in_color_space);
  jpeg_set_quality(&ci, q, TRUE);
  ci.optimize_coding = TRUE;
  ci.restart_interval = rst;
  for (int c = 0; c < C; c++) { ci.comp_info[c].h_samp_factor = samp[3 * c] - '0'; ci.comp_info[c].v_samp_factor = samp[3 * c + 1] - '0'; }
  jpeg_scan_info scans[4];
  if (multi) {
    for (int c = 0; c < C; c++) { scans[c].comps_in_scan = 1; scans[c].component_index[0] = c; scans[c].Ss = 0; scans[c].Se = 63; scans[c].Ah = 0; scans[c].Al = 0; }
    ci.scan_info = scans; ci.num_scans = C;
  }
  jpeg_start_compress(&ci, TRUE);
  while (ci.next_scanline < ci.image_height) { JSAMPROW row = buf + (size_t)ci.next_scanline * W * C; jpeg_write_scanlines(&ci, &row, 1); }
  jpeg_finish_compress(&ci); jpeg_destroy_compress(&ci); fclose(out); fclose(in);
  return 0;
}

static int dec(char **argv) {
  /* dec in.jpg out.raw: components as coded (no colour conversion), upsampling by replication */
  struct jpeg_decompress_struct ci; struct jpeg_error_mgr jerr;
  FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "wb");
  ci.err = jpeg_std_error(&jerr);
  jpeg_create_decompress(&ci);
  jpeg_stdio_src(&ci, in);
  jpeg_read_header(&ci, TRUE);
  ci.out_color_space = ci.jpeg_color_space;
  ci.do_fancy_upsampling = FALSE;
  ci.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&ci);
  int rowlen = ci.output_width * ci.output_components; JSAMPLE *row = malloc(rowlen * sizeof(JSAMPLE));
  while (ci.output_scanline < ci.output_height) {
    jpeg_read_scanlines(&ci, &row, 1);
    for (int i = 0; i < rowlen; i++) {
#ifdef IJG12
      fputc(row[i] & 0xff, out); fputc((row[i] >> 8) & 0xff, out);
#else
      fputc(row[i], out);
#endif
    }
  }
  fprintf(stderr, "%dx%dx%d precision %d, %d warnings\n", ci.output_width, ci.output_height, ci.output_components, ci.data_precision, (int)jerr.num_warnings);
  jpeg_finish_decompress(&ci); jpeg_destroy_decompress(&ci); fclose(out); fclose(in);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 11 && !strcmp(argv[1], "enc")) return enc(argc, argv);
  if (argc >= 4 && !strcmp(argv[1], "dec")) return dec(argv);
  fprintf(stderr, "usage: enc W H C quality restart hv,hv,.. multiscan in.raw out.jpg | dec in.jpg out.raw\n");
  return 2;
}
