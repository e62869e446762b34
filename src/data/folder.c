/* folder.c - a user's own images: a folder of PNG and JPEG files as a dataset.
 *
 * `--dataset folder:DIR` reads one subfolder per class, the classes in the
 * order of their names (class k is the k-th name), and decodes every .png,
 * .jpg and .jpeg file in them with libpng and libjpeg:
 *
 *   DIR/train/CLASS/NAME.png and DIR/test/CLASS/NAME.png  (split train and test)
 *   DIR/CLASS/NAME.png                                   (split train only)
 *
 * Images are 1 channel when every one is grayscale, else 3 (grayscale ones
 * repeated, alpha dropped). `folder:DIR` needs every image at one size and
 * names two files of different sizes otherwise; `folder:DIR:HxW` resizes each
 * image to HxW (bilinear over the whole image). A file that cannot be decoded
 * is skipped with a warning naming it, and the count skipped is reported; a
 * class folder without images, a folder without classes, or no image at all
 * is an error naming the folder. The test split's classes must be the train
 * split's. Tested by tests/cli_folder.sh.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cellforge/data.h"
#include "cellforge/log.h"

#ifdef CF_HAVE_IMAGES
#include <jpeglib.h>
#include <png.h>
#endif

#define FOLDER_MAX_CLASSES 100000
#define FOLDER_MAX_SIDE 4096

typedef struct image {
    int w, h, c;          /* c: 1 or 3 */
    unsigned char *px;    /* h x w x c */
    int label;
    char path[512];
} image;

typedef struct image_list {
    image *v;
    size_t n, cap;
    size_t skipped;
    char first_skipped[512];
} image_list;

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_ext(const char *name, const char *ext) {
    size_t n = strlen(name), e = strlen(ext);
    if (n <= e) return 0;
    for (size_t i = 0; i < e; i++)
        if (tolower((unsigned char)name[n - e + i]) != ext[i]) return 0;
    return 1;
}

/* The sorted names of the entries of dir that are folders (want_dirs) or
 * image files; *n set, caller frees each name and the array. */
static cf_status list_dir(const char *dir, int want_dirs, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) CF_FAIL(CF_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    char **names = NULL;
    size_t cap = 0;
    cf_status st = CF_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[1400];
        snprintf(path, sizeof path, "%.1100s/%s", dir, e->d_name);
        int folder = is_dir(path);
        if (want_dirs ? !folder
                      : folder || !(has_ext(e->d_name, ".png") || has_ext(e->d_name, ".jpg") ||
                                    has_ext(e->d_name, ".jpeg")))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) {
                st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory to list it", dir);
                break;
            }
            names = grown;
        }
        if (!(names[*n] = strdup(e->d_name))) {
            st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory to list it", dir);
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (names) qsort(names, *n, sizeof *names, cmp_name);
    *out = names;
    return st;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

#ifdef CF_HAVE_IMAGES
static int decode_png(const char *path, image *im) {
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&p, path)) return 0;
    int color = (p.format & PNG_FORMAT_FLAG_COLOR) != 0;
    p.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    if (p.width < 1 || p.height < 1 || p.width > FOLDER_MAX_SIDE || p.height > FOLDER_MAX_SIDE) {
        png_image_free(&p);
        return 0;
    }
    im->w = (int)p.width;
    im->h = (int)p.height;
    im->c = color ? 3 : 1;
    im->px = malloc(PNG_IMAGE_SIZE(p));
    if (!im->px || !png_image_finish_read(&p, NULL, im->px, 0, NULL)) {
        png_image_free(&p);
        free(im->px);
        im->px = NULL;
        return 0;
    }
    return 1;
}

typedef struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} jpeg_fail;

static void jpeg_exit(j_common_ptr c) {
    longjmp(((jpeg_fail *)c->err)->jump, 1);
}

static void jpeg_quiet(j_common_ptr c) {
    (void)c;
}

static int decode_jpeg(const char *path, image *im) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    struct jpeg_decompress_struct j;
    jpeg_fail fail;
    j.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = jpeg_exit;
    fail.mgr.output_message = jpeg_quiet;
    unsigned char *volatile px = NULL;
    if (setjmp(fail.jump)) {
        jpeg_destroy_decompress(&j);
        fclose(f);
        free(px);
        return 0;
    }
    jpeg_create_decompress(&j);
    jpeg_stdio_src(&j, f);
    jpeg_read_header(&j, TRUE);
    j.out_color_space = j.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&j);
    if (j.output_width > FOLDER_MAX_SIDE || j.output_height > FOLDER_MAX_SIDE) longjmp(fail.jump, 1);
    im->w = (int)j.output_width;
    im->h = (int)j.output_height;
    im->c = j.output_components;
    px = malloc((size_t)im->w * (size_t)im->h * (size_t)im->c);
    if (!px) longjmp(fail.jump, 1);
    while (j.output_scanline < j.output_height) {
        JSAMPROW row = px + (size_t)j.output_scanline * (size_t)im->w * (size_t)im->c;
        jpeg_read_scanlines(&j, &row, 1);
    }
    jpeg_finish_decompress(&j);
    jpeg_destroy_decompress(&j);
    fclose(f);
    im->px = px;
    return 1;
}
#endif

/* Decode one file into the list, or count it as skipped. */
static cf_status add_file(image_list *L, const char *path, int label) {
    image im;
    memset(&im, 0, sizeof im);
    int ok = 0;
#ifdef CF_HAVE_IMAGES
    ok = has_ext(path, ".png") ? decode_png(path, &im) : decode_jpeg(path, &im);
#else
    CF_FAIL(CF_ERR_UNSUPPORTED, "%s: this build reads no PNG or JPEG files (libpng-dev and libjpeg-dev were missing "
                                "when it was built)", path);
#endif
    if (!ok) {
        if (!L->skipped++) snprintf(L->first_skipped, sizeof L->first_skipped, "%s", path);
        CF_LOG_WARN("%s: not a readable PNG or JPEG image; skipped", path);
        return CF_OK;
    }
    if (L->n == L->cap) {
        size_t cap = L->cap ? 2 * L->cap : 256;
        image *grown = realloc(L->v, cap * sizeof *grown);
        if (!grown) {
            free(im.px);
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for the images", path);
        }
        L->v = grown;
        L->cap = cap;
    }
    im.label = label;
    snprintf(im.path, sizeof im.path, "%s", path);
    L->v[L->n++] = im;
    return CF_OK;
}

static void list_free(image_list *L) {
    for (size_t i = 0; i < L->n; i++) free(L->v[i].px);
    free(L->v);
}

/* Every class folder of root (sorted) into L; the class names into *names. */
static cf_status read_split(const char *root, image_list *L, char ***names, size_t *n_classes) {
    CF_TRY(list_dir(root, 1, names, n_classes));
    if (*n_classes < 2)
        CF_FAIL(CF_ERR_PARSE, "%s: %zu class folder%s; a dataset needs one folder per class, 2 at least", root,
                *n_classes, *n_classes == 1 ? "" : "s");
    if (*n_classes > FOLDER_MAX_CLASSES) CF_FAIL(CF_ERR_PARSE, "%s: more than %d classes", root, FOLDER_MAX_CLASSES);
    for (size_t k = 0; k < *n_classes; k++) {
        char dir[1400];
        snprintf(dir, sizeof dir, "%.1100s/%.250s", root, (*names)[k]);
        char **files = NULL;
        size_t n = 0;
        CF_TRY(list_dir(dir, 0, &files, &n));
        size_t before = L->n;
        cf_status st = CF_OK;
        for (size_t i = 0; i < n && st == CF_OK; i++) {
            char path[1700];
            snprintf(path, sizeof path, "%s/%.250s", dir, files[i]);
            st = add_file(L, path, (int)k);
        }
        free_names(files, n);
        CF_TRY(st);
        if (L->n == before)
            CF_FAIL(CF_ERR_PARSE, "%s: class '%s' has no readable image (.png, .jpg, .jpeg)%s", dir, (*names)[k],
                    n ? " (every file in it failed to decode)" : "");
    }
    return CF_OK;
}

/* Bilinear resize of one channel-interleaved image into CHW output. */
static void resize_into(const image *im, int c, int h, int w, uint8_t *out) {
    for (int y = 0; y < h; y++) {
        double sy = h > 1 ? (double)y * (im->h - 1) / (h - 1) : 0;
        int y0 = (int)sy, y1 = y0 + 1 < im->h ? y0 + 1 : y0;
        double fy = sy - y0;
        for (int x = 0; x < w; x++) {
            double sx = w > 1 ? (double)x * (im->w - 1) / (w - 1) : 0;
            int x0 = (int)sx, x1 = x0 + 1 < im->w ? x0 + 1 : x0;
            double fx = sx - x0;
            for (int k = 0; k < c; k++) {
                int kk = im->c == 1 ? 0 : k;
#define PX(yy, xx) (double)im->px[((size_t)(yy) * (size_t)im->w + (size_t)(xx)) * (size_t)im->c + (size_t)kk]
                double v = (1 - fy) * ((1 - fx) * PX(y0, x0) + fx * PX(y0, x1)) + fy * ((1 - fx) * PX(y1, x0) + fx * PX(y1, x1));
#undef PX
                out[((size_t)k * (size_t)h + (size_t)y) * (size_t)w + (size_t)x] = (uint8_t)(v + 0.5);
            }
        }
    }
}

/* "DIR" or "DIR:HxW" into dir and the size (0 x 0: the images' own). */
static cf_status parse_spec(const char *spec, char *dir, size_t cap, int *h, int *w) {
    *h = *w = 0;
    snprintf(dir, cap, "%s", spec);
    char *colon = strrchr(dir, ':');
    if (colon) {
        int hh = 0, ww = 0;
        char tail;
        if (sscanf(colon + 1, "%dx%d%c", &hh, &ww, &tail) != 2 || hh < 1 || ww < 1 || hh > FOLDER_MAX_SIDE ||
            ww > FOLDER_MAX_SIDE)
            CF_FAIL(CF_ERR_INVALID_ARG, "folder:%s: '%s' is not a size HxW (e.g. folder:photos:32x32)", spec,
                    colon + 1);
        *colon = 0;
        *h = hh;
        *w = ww;
    }
    if (!dir[0]) CF_FAIL(CF_ERR_INVALID_ARG, "folder: names no folder (folder:DIR or folder:DIR:HxW)");
    if (!is_dir(dir)) CF_FAIL(CF_ERR_IO, "%s: no such folder (folder:DIR holds one subfolder per class)", dir);
    return CF_OK;
}

static cf_status build(const char *root, image_list *L, int h, int w, size_t n_classes, const char *ds_name,
                       cf_dataset **out) {
    int c = 1;
    for (size_t i = 0; i < L->n; i++)
        if (L->v[i].c == 3) c = 3;
    if (h == 0) {
        h = L->v[0].h;
        w = L->v[0].w;
        for (size_t i = 1; i < L->n; i++)
            if (L->v[i].h != h || L->v[i].w != w)
                CF_FAIL(CF_ERR_PARSE, "%s: images of different sizes: %s is %dx%d, %s is %dx%d; give the size to "
                                      "resize them to, e.g. folder:%s:%dx%d", root, L->v[0].path, h, w, L->v[i].path,
                        L->v[i].h, L->v[i].w, root, h, w);
    }
    CF_TRY(cf_dataset_create(ds_name, L->n, c, h, w, (int)n_classes, out));
    size_t per = (size_t)c * (size_t)h * (size_t)w;
    for (size_t i = 0; i < L->n; i++) {
        resize_into(&L->v[i], c, h, w, (*out)->images + i * per);
        (*out)->labels[i] = L->v[i].label;
    }
    return CF_OK;
}

cf_status cf_data_folder_load(const char *spec, int train, const char *ds_name, cf_dataset **out) {
    *out = NULL;
    char dir[1024], root[1100];
    int h, w;
    CF_TRY(parse_spec(spec, dir, sizeof dir, &h, &w));
    snprintf(root, sizeof root, "%s/train", dir);
    int split_folders = is_dir(root);
    if (!split_folders && !train)
        CF_FAIL(CF_ERR_PARSE, "%s: no test split: a folder with train/ and test/ subfolders (each with one folder "
                              "per class) has one", dir);
    snprintf(root, sizeof root, split_folders ? "%s/%s" : "%s", dir, train ? "train" : "test");
    image_list L = {0};
    char **names = NULL, **train_names = NULL;
    size_t n_classes = 0, n_train_classes = 0;
    cf_status st = read_split(root, &L, &names, &n_classes);
    if (st == CF_OK && !train) {
        /* the test split must name the train split's classes, in the same order */
        char troot[1100];
        snprintf(troot, sizeof troot, "%s/train", dir);
        st = list_dir(troot, 1, &train_names, &n_train_classes);
        for (size_t k = 0; st == CF_OK && (k < n_classes || k < n_train_classes); k++)
            if (k >= n_classes || k >= n_train_classes || strcmp(names[k], train_names[k]) != 0)
                st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                                  "%s: the test classes differ from the train classes (test has '%s', train '%s')",
                                  dir, k < n_classes ? names[k] : "(none)",
                                  k < n_train_classes ? train_names[k] : "(none)");
    }
    if (st == CF_OK && L.skipped)
        CF_LOG_WARN("%s: %zu file%s skipped (not readable PNG or JPEG), the first %s", root, L.skipped,
                    L.skipped == 1 ? "" : "s", L.first_skipped);
    if (st == CF_OK) st = build(root, &L, h, w, n_classes, ds_name, out);
    if (st == CF_OK) st = cf_dataset_set_class_names(*out, (const char *const *)names);
    if (st != CF_OK) {
        cf_dataset_destroy(*out);
        *out = NULL;
    }
    list_free(&L);
    free_names(names, n_classes);
    free_names(train_names, n_train_classes);
    return st;
}
