/* Compiled unmasking for livews.engine.masking (RFC 6455 §5.3).
 *
 * apply_mask(data, mask, offset=0) -> bytes has exactly the behaviour of the pure-Python _apply_mask_py:
 * data is any bytes-like object, mask is 4 bytes, offset is how many payload bytes came before this chunk
 * (only offset mod 4 matters). unmask_chunks unmasks a payload that arrived in pieces into one bytes.
 * PayloadBuffer is a bytes object that a reader fills in place (recv_into) and that is unmasked in place,
 * so a large payload goes from the socket into the message it becomes with no buffer in between. This
 * module knows nothing about frames or connections.
 *
 * The XOR runs on 16 (SSE2) or 32 (AVX2, chosen at run time) bytes at a time on x86-64, otherwise 8 bytes
 * at a time with a 64-bit key. Every multi-byte load and store goes through memcpy or an unaligned
 * intrinsic, so no pointer is ever dereferenced at an alignment it does not have.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#  include <emmintrin.h>
#  define _LIVEWS_SSE2 1
#  if (defined(__GNUC__) || defined(__clang__)) && !defined(_MSC_VER)
#    include <immintrin.h>
#    define _LIVEWS_AVX2 1
#  endif
#endif

/* XOR len bytes of src with the key starting at key[0]; key8 holds the key repeated twice. */
static void
_xor_portable(unsigned char *dst, const unsigned char *src, Py_ssize_t len, const unsigned char key8[8])
{
    uint64_t k, w;
    Py_ssize_t i = 0;

    memcpy(&k, key8, 8);
    for (; i + 32 <= len; i += 32) {
        uint64_t a, b, c, d;
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        memcpy(&c, src + i + 16, 8);
        memcpy(&d, src + i + 24, 8);
        a ^= k; b ^= k; c ^= k; d ^= k;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        memcpy(dst + i + 16, &c, 8);
        memcpy(dst + i + 24, &d, 8);
    }
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= k;
        memcpy(dst + i, &w, 8);
    }
    /* i is a multiple of 8, so the key phase here is again 0. */
    for (; i < len; i++) {
        dst[i] = src[i] ^ key8[i & 3];
    }
}

#ifdef _LIVEWS_SSE2
static void
_xor_sse2(unsigned char *dst, const unsigned char *src, Py_ssize_t len, const unsigned char key8[8])
{
    int32_t k32;
    __m128i k;
    Py_ssize_t i = 0;

    memcpy(&k32, key8, 4);
    k = _mm_set1_epi32(k32);
    for (; i + 64 <= len; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k));
        _mm_storeu_si128((__m128i *)(dst + i + 16), _mm_xor_si128(b, k));
        _mm_storeu_si128((__m128i *)(dst + i + 32), _mm_xor_si128(c, k));
        _mm_storeu_si128((__m128i *)(dst + i + 48), _mm_xor_si128(d, k));
    }
    for (; i + 16 <= len; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k));
    }
    /* i is a multiple of 16: the key phase is unchanged for the tail. */
    _xor_portable(dst + i, src + i, len - i, key8);
}
#endif

#ifdef _LIVEWS_AVX2
__attribute__((target("avx2"))) static void
_xor_avx2(unsigned char *dst, const unsigned char *src, Py_ssize_t len, const unsigned char key8[8])
{
    int32_t k32;
    __m256i k;
    Py_ssize_t i = 0;

    memcpy(&k32, key8, 4);
    k = _mm256_set1_epi32(k32);
    for (; i + 128 <= len; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(src + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(src + i + 96));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(a, k));
        _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_xor_si256(b, k));
        _mm256_storeu_si256((__m256i *)(dst + i + 64), _mm256_xor_si256(c, k));
        _mm256_storeu_si256((__m256i *)(dst + i + 96), _mm256_xor_si256(d, k));
    }
    for (; i + 32 <= len; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(a, k));
    }
    _xor_sse2(dst + i, src + i, len - i, key8);
}
#endif

typedef void (*_xor_fn)(unsigned char *, const unsigned char *, Py_ssize_t, const unsigned char *);

/* Chosen once at module exec. */
static _xor_fn _xor_impl = _xor_portable;

/* Below this length the SIMD set-up does not pay; the 8-byte loop handles it. */
#define _SIMD_MIN 64

/* XOR len bytes of src into dst with the 4-byte key, src being `phase` bytes into the payload (only
 * phase mod 4 matters). dst may be src. The one place that rotates the key and picks the loop. */
static void
_unmask(unsigned char *dst, const unsigned char *src, Py_ssize_t len, const unsigned char key4[4],
        Py_ssize_t phase)
{
    unsigned char key8[8];
    int i;

    for (i = 0; i < 8; i++) {
        key8[i] = key4[(phase + i) & 3];
    }
    if (len >= _SIMD_MIN) {
        _xor_impl(dst, src, len, key8);
    }
    else if (len > 0) {
        _xor_portable(dst, src, len, key8);
    }
}

/* Bind a METH_FASTCALL|METH_KEYWORDS call's arguments to ``argv`` (n slots, NULL where not given), as
 * Python binds ``def f(a, b, c=..., ...)``: the first two are required, the rest optional. Returns -1 with
 * the TypeError Python would raise. */
static int
bind_args(const char *fname, const char *const *names, Py_ssize_t n, PyObject *const *args,
          Py_ssize_t nargs, PyObject *kwnames, PyObject **argv)
{
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    Py_ssize_t i, j;

    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)", fname, n, nargs);
        return -1;
    }
    for (i = 0; i < nargs; i++) {
        argv[i] = args[i];
    }
    for (i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        for (j = 0; j < n; j++) {
            if (PyUnicode_CompareWithASCIIString(name, names[j]) == 0) {
                break;
            }
        }
        if (j == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", fname, name);
            return -1;
        }
        if (argv[j] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, names[j]);
            return -1;
        }
        argv[j] = args[nargs + i];
    }
    if (argv[0] == NULL || argv[1] == NULL) {
        PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname,
                     names[argv[0] == NULL ? 0 : 1]);
        return -1;
    }
    return 0;
}

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[3] = {"data", "mask", "offset"};
    PyObject *argv[3] = {NULL, NULL, NULL};
    PyObject *data_obj, *mask_obj, *offset_obj, *result = NULL;
    Py_buffer data, mask;
    unsigned char key4[4];
    unsigned int phase = 0;

    (void)module;
    if (bind_args("apply_mask", names, 3, args, nargs, kwnames, argv) < 0) {
        return NULL;
    }
    data_obj = argv[0];
    mask_obj = argv[1];
    offset_obj = argv[2];

    if (offset_obj != NULL) {
        /* Only offset mod 4 matters; Python's `offset & 3` semantics, including negative and huge ints. */
        int overflow = 0;
        long long off = PyLong_AsLongLongAndOverflow(offset_obj, &overflow);
        if (off == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (overflow) {
            PyObject *three = PyLong_FromLong(3);
            PyObject *low;
            if (three == NULL) {
                return NULL;
            }
            low = PyNumber_And(offset_obj, three);
            Py_DECREF(three);
            if (low == NULL) {
                return NULL;
            }
            phase = (unsigned int)PyLong_AsLong(low);
            Py_DECREF(low);
        }
        else {
            phase = (unsigned int)((unsigned long long)off & 3u);
        }
    }

    if (PyObject_GetBuffer(mask_obj, &mask, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (mask.len != 4) {
        PyErr_Format(PyExc_ValueError, "mask must be 4 bytes, got %zd", mask.len);
        PyBuffer_Release(&mask);
        return NULL;
    }
    memcpy(key4, mask.buf, 4);
    PyBuffer_Release(&mask);

    if (PyObject_GetBuffer(data_obj, &data, PyBUF_SIMPLE) == 0) {
        result = PyBytes_FromStringAndSize(NULL, data.len);
        if (result != NULL) {
            _unmask((unsigned char *)PyBytes_AS_STRING(result), (const unsigned char *)data.buf, data.len, key4,
                    phase);
        }
        PyBuffer_Release(&data);
        return result;
    }

    /* Not contiguous (e.g. memoryview(b)[::2]): copy it out in C order, then XOR in place. */
    if (!PyErr_ExceptionMatches(PyExc_BufferError)) {
        return NULL;
    }
    PyErr_Clear();
    if (PyObject_GetBuffer(data_obj, &data, PyBUF_FULL_RO) < 0) {
        return NULL;
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result != NULL && data.len > 0) {
        unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
        if (PyBuffer_ToContiguous(out, &data, data.len, 'C') < 0) {
            Py_CLEAR(result);
        }
        else {
            _unmask(out, out, data.len, key4, phase);
        }
    }
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(apply_mask_doc,
"apply_mask(data, mask, offset=0) -> bytes\n"
"\n"
"Return data XOR the 4-byte mask repeated, starting offset bytes into the key (RFC 6455 5.3).\n"
"data is any bytes-like object; a mask that is not 4 bytes raises ValueError.");

PyDoc_STRVAR(unmask_chunks_doc,
"unmask_chunks(chunks, mask) -> bytes\n"
"\n"
"The concatenation of the bytes-like chunks, unmasked with the 4-byte mask as one payload (RFC 6455 5.3).\n"
"One allocation and one pass: a payload that arrived in pieces is never joined first.");

static PyObject *
unmask_chunks(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq, *result = NULL;
    Py_buffer mask, chunk;
    unsigned char key4[4];
    Py_ssize_t n, i, total = 0, pos = 0;

    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "unmask_chunks() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &mask, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (mask.len != 4) {
        PyErr_Format(PyExc_ValueError, "mask must be 4 bytes, got %zd", mask.len);
        PyBuffer_Release(&mask);
        return NULL;
    }
    memcpy(key4, mask.buf, 4);
    PyBuffer_Release(&mask);

    seq = PySequence_Fast(args[0], "chunks must be a sequence of bytes-like objects");
    if (seq == NULL) {
        return NULL;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    for (i = 0; i < n; i++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(seq, i), &chunk, PyBUF_SIMPLE) < 0) {
            goto done;
        }
        total += chunk.len;
        PyBuffer_Release(&chunk);
    }
    result = PyBytes_FromStringAndSize(NULL, total);
    if (result == NULL) {
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(seq, i), &chunk, PyBUF_SIMPLE) < 0) {
            Py_CLEAR(result);
            goto done;
        }
        if (pos + chunk.len > total) {  /* a chunk grew between the two passes */
            PyBuffer_Release(&chunk);
            PyErr_SetString(PyExc_ValueError, "a chunk changed size while unmasking");
            Py_CLEAR(result);
            goto done;
        }
        _unmask((unsigned char *)PyBytes_AS_STRING(result) + pos, (const unsigned char *)chunk.buf, chunk.len,
                key4, pos);
        pos += chunk.len;
        PyBuffer_Release(&chunk);
    }
    if (pos != total) {
        PyErr_SetString(PyExc_ValueError, "a chunk changed size while unmasking");
        Py_CLEAR(result);
    }
done:
    Py_DECREF(seq);
    return result;
}

/* ------------------------------------------------------------------------------------ PayloadBuffer */

/* A bytes object of a known size, filled front to back by a reader and unmasked in place as it fills.
 *
 * The buffer protocol exports the part not filled yet, writable, so socket.recv_into() writes straight into
 * the bytes that become the message. The bytes is private until take(), which needs it full and hands it
 * over; nothing can reach it before. Allocation does not touch the memory, so a peer that declares a large
 * frame and sends little costs little resident memory. A view that outlives take() keeps the memory alive
 * (it must not be written to any more; drivers write only between getting a view and reporting its bytes).
 */
typedef struct {
    PyObject_HEAD
    PyObject *bytes;    /* the payload being filled; NULL once taken */
    PyObject *keep;     /* the taken bytes, while views exported before take() are alive */
    Py_ssize_t size;
    Py_ssize_t filled;
    Py_ssize_t exports;
    unsigned char key[4];
} PayloadBuffer;

static int
_payload_check_open(const PayloadBuffer *self)
{
    if (self->bytes == NULL) {
        PyErr_SetString(PyExc_ValueError, "the payload was already taken");
        return -1;
    }
    return 0;
}

static PyObject *
PayloadBuffer_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"size", "mask", NULL};
    Py_ssize_t size;
    Py_buffer mask;
    PayloadBuffer *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ny*:PayloadBuffer", names, &size, &mask)) {
        return NULL;
    }
    if (mask.len != 4) {
        PyErr_Format(PyExc_ValueError, "mask must be 4 bytes, got %zd", mask.len);
        PyBuffer_Release(&mask);
        return NULL;
    }
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must not be negative");
        PyBuffer_Release(&mask);
        return NULL;
    }
    self = (PayloadBuffer *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyBuffer_Release(&mask);
        return NULL;
    }
    memcpy(self->key, mask.buf, 4);
    PyBuffer_Release(&mask);
    self->size = size;
    self->bytes = PyBytes_FromStringAndSize(NULL, size);
    if (self->bytes == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void
PayloadBuffer_dealloc(PayloadBuffer *self)
{
    PyTypeObject *type = Py_TYPE(self);

    Py_CLEAR(self->bytes);
    Py_CLEAR(self->keep);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static int
PayloadBuffer_getbuffer(PayloadBuffer *self, Py_buffer *view, int flags)
{
    if (self->bytes == NULL) {
        PyErr_SetString(PyExc_BufferError, "the payload was already taken");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, PyBytes_AS_STRING(self->bytes) + self->filled,
                          self->size - self->filled, 0, flags) < 0) {
        return -1;
    }
    self->exports++;
    return 0;
}

static void
PayloadBuffer_releasebuffer(PayloadBuffer *self, Py_buffer *view)
{
    (void)view;
    if (--self->exports == 0) {
        Py_CLEAR(self->keep);
    }
}

PyDoc_STRVAR(PayloadBuffer_advance_doc,
"advance(n)\n"
"\n"
"The next n bytes of the writable view were filled in place: unmask them and move past them.");

static PyObject *
PayloadBuffer_advance(PayloadBuffer *self, PyObject *arg)
{
    Py_ssize_t n = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    unsigned char *p;

    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (_payload_check_open(self) < 0) {
        return NULL;
    }
    if (n < 0 || n > self->size - self->filled) {
        PyErr_Format(PyExc_ValueError, "advance(%zd) outside the %zd bytes still to fill", n,
                     self->size - self->filled);
        return NULL;
    }
    p = (unsigned char *)PyBytes_AS_STRING(self->bytes) + self->filled;
    _unmask(p, p, n, self->key, self->filled);
    self->filled += n;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(PayloadBuffer_write_doc,
"write(data)\n"
"\n"
"Unmask the bytes-like data into the next bytes of the payload (data read before the view was used).");

static PyObject *
PayloadBuffer_write(PayloadBuffer *self, PyObject *arg)
{
    Py_buffer data;

    if (_payload_check_open(self) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (data.len > self->size - self->filled) {
        PyErr_Format(PyExc_ValueError, "write of %zd bytes where %zd are still to fill", data.len,
                     self->size - self->filled);
        PyBuffer_Release(&data);
        return NULL;
    }
    _unmask((unsigned char *)PyBytes_AS_STRING(self->bytes) + self->filled, (const unsigned char *)data.buf,
            data.len, self->key, self->filled);
    self->filled += data.len;
    PyBuffer_Release(&data);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(PayloadBuffer_take_doc,
"take() -> bytes\n"
"\n"
"The full, unmasked payload; the buffer exports nothing afterwards.");

static PyObject *
PayloadBuffer_take(PayloadBuffer *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *result;

    if (_payload_check_open(self) < 0) {
        return NULL;
    }
    if (self->filled != self->size) {
        PyErr_Format(PyExc_ValueError, "take() with %zd of %zd bytes filled", self->filled, self->size);
        return NULL;
    }
    result = self->bytes;
    self->bytes = NULL;
    if (self->exports > 0) {
        Py_INCREF(result);
        self->keep = result;
    }
    return result;
}

static PyObject *
PayloadBuffer_remaining(PayloadBuffer *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->bytes == NULL ? 0 : self->size - self->filled);
}

static PyMethodDef PayloadBuffer_methods[] = {
    {"advance", (PyCFunction)PayloadBuffer_advance, METH_O, PayloadBuffer_advance_doc},
    {"write", (PyCFunction)PayloadBuffer_write, METH_O, PayloadBuffer_write_doc},
    {"take", (PyCFunction)PayloadBuffer_take, METH_NOARGS, PayloadBuffer_take_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef PayloadBuffer_getset[] = {
    {"remaining", (getter)PayloadBuffer_remaining, NULL, "Bytes still to fill (0 once taken).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(PayloadBuffer_doc,
"PayloadBuffer(size, mask)\n"
"\n"
"A bytes of size bytes filled in place through its writable buffer (the part not filled yet) or write(),\n"
"unmasked with the 4-byte mask as it fills, and handed over whole by take().");

static PyType_Slot PayloadBuffer_slots[] = {
    {Py_tp_new, (void *)PayloadBuffer_new},
    {Py_tp_dealloc, (void *)PayloadBuffer_dealloc},
    {Py_tp_methods, (void *)PayloadBuffer_methods},
    {Py_tp_getset, (void *)PayloadBuffer_getset},
    {Py_tp_doc, (void *)PayloadBuffer_doc},
    {Py_bf_getbuffer, (void *)PayloadBuffer_getbuffer},
    {Py_bf_releasebuffer, (void *)PayloadBuffer_releasebuffer},
    {0, NULL},
};

static PyType_Spec PayloadBuffer_spec = {
    "livews.engine._speedups.PayloadBuffer",
    sizeof(PayloadBuffer),
    0,
    Py_TPFLAGS_DEFAULT,
    PayloadBuffer_slots,
};

/* ---------------------------------------------------------------------------------------------------
 * The run reader: whole, ordinary data frames, straight to events.
 *
 * read_messages(data, pos, max_length, events) reads frames of `data` from `pos` while each one is a whole
 * unfragmented uncompressed data frame (first byte exactly 0x81 or 0x82: FIN, no RSV bit, text or binary),
 * masked, with a minimally encoded length of at most `max_length`, complete in `data`, and (for text) valid
 * UTF-8. Each becomes an event appended to `events`; it returns the position of the first frame it did not
 * take. It stops there without judging it: that frame, whatever it is (control, fragment, compressed,
 * partial, invalid), is for the Python parser, which owns every rule, error and close code. So the caller
 * may call it only where a new message may begin. Events are made without running their __init__: the
 * types given to use_event_types are slotted classes whose one field is set through its descriptor.
 */

static PyObject *_text_type, *_text_field, *_binary_type, *_binary_field;

static int
_event_field(PyObject *type, PyObject **field)
{
    PyObject *descr;

    if (!PyType_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "event types must be classes");
        return -1;
    }
    descr = PyObject_GetAttrString(type, "data");
    if (descr == NULL) {
        return -1;
    }
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        Py_DECREF(descr);
        PyErr_SetString(PyExc_TypeError, "an event type's 'data' must be a slot");
        return -1;
    }
    *field = descr;
    return 0;
}

PyDoc_STRVAR(use_event_types_doc,
"use_event_types(text_type, binary_type)\n\n"
"The slotted classes read_messages makes its events of; each has one slot, 'data'.");

static PyObject *
use_event_types(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *text_field, *binary_field;

    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "use_event_types() takes 2 arguments");
        return NULL;
    }
    if (_event_field(args[0], &text_field) < 0) {
        return NULL;
    }
    if (_event_field(args[1], &binary_field) < 0) {
        Py_DECREF(text_field);
        return NULL;
    }
    Py_XSETREF(_text_field, text_field);
    Py_XSETREF(_binary_field, binary_field);
    Py_INCREF(args[0]);
    Py_XSETREF(_text_type, args[0]);
    Py_INCREF(args[1]);
    Py_XSETREF(_binary_type, args[1]);
    Py_RETURN_NONE;
}

/* A new event of `type` with its slot `field` set to `value` (a new reference), or NULL. */
static PyObject *
_make_event(PyObject *type, PyObject *field, PyObject *value)
{
    PyTypeObject *tp = (PyTypeObject *)type;
    PyObject *event = tp->tp_alloc(tp, 0);

    if (event != NULL && Py_TYPE(field)->tp_descr_set(field, event, value) < 0) {
        Py_CLEAR(event);
    }
    Py_DECREF(value);
    return event;
}

/* The text of `len` masked bytes at `src`, or NULL with no error set if they are not UTF-8. Unmasked
 * straight into an ASCII str when they are ASCII (one copy); otherwise decoded strictly from there. */
static PyObject *
_read_text(const unsigned char *src, Py_ssize_t len, const unsigned char *key4)
{
    PyObject *text = PyUnicode_New(len, 127), *decoded;
    unsigned char *buf;
    uint64_t high = 0, w;
    Py_ssize_t i = 0;

    if (text == NULL || len == 0) {
        return text;
    }
    buf = PyUnicode_1BYTE_DATA(text);
    _unmask(buf, src, len, key4, 0);
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, buf + i, 8);
        high |= w;
    }
    for (; i < len; i++) {
        high |= buf[i];
    }
    if (!(high & 0x8080808080808080ULL)) {
        return text;
    }
    decoded = PyUnicode_DecodeUTF8((const char *)buf, len, "strict");
    Py_DECREF(text);
    if (decoded == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
    }
    return decoded;
}

PyDoc_STRVAR(read_messages_doc,
"read_messages(data, pos, max_length, events) -> int\n\n"
"Append an event for each whole, ordinary data frame from pos on; return where the first other frame starts.");

static PyObject *
read_messages(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *p;
    Py_ssize_t n, pos, max_length;
    PyObject *events, *result = NULL;

    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "read_messages() takes 4 arguments");
        return NULL;
    }
    if (_text_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "read_messages() before use_event_types()");
        return NULL;
    }
    events = args[3];
    if (!PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "events must be a list");
        return NULL;
    }
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    max_length = PyLong_AsSsize_t(args[2]);
    if (max_length == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    p = (const unsigned char *)view.buf;
    n = view.len;
    if (pos < 0 || pos > n) {
        PyErr_SetString(PyExc_ValueError, "pos out of range");
        goto done;
    }
    while (n - pos >= 6) {
        unsigned char b0 = p[pos], b1 = p[pos + 1];
        uint64_t length = b1 & 0x7F;
        Py_ssize_t header = 6;
        PyObject *value, *event;
        int appended;

        if ((b0 != 0x81 && b0 != 0x82) || !(b1 & 0x80)) {
            break;
        }
        if (length == 126) {
            header = 8;
            if (n - pos < header) {
                break;
            }
            length = ((uint64_t)p[pos + 2] << 8) | p[pos + 3];
            if (length < 126) {
                break;
            }
        }
        else if (length == 127) {
            int i;
            header = 14;
            if (n - pos < header) {
                break;
            }
            length = 0;
            for (i = 2; i < 10; i++) {
                length = (length << 8) | p[pos + i];
            }
            if (length >> 63 || length < 0x10000) {
                break;
            }
        }
        if (length > (uint64_t)max_length || length > (uint64_t)(n - pos - header)) {
            break;
        }
        if (b0 == 0x81) {
            value = _read_text(p + pos + header, (Py_ssize_t)length, p + pos + header - 4);
            if (value == NULL) {
                if (PyErr_Occurred()) {
                    goto done;
                }
                break; /* not UTF-8: the Python parser fails it with the right code */
            }
            event = _make_event(_text_type, _text_field, value);
        }
        else {
            value = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)length);
            if (value == NULL) {
                goto done;
            }
            _unmask((unsigned char *)PyBytes_AS_STRING(value), p + pos + header, (Py_ssize_t)length,
                    p + pos + header - 4, 0);
            event = _make_event(_binary_type, _binary_field, value);
        }
        if (event == NULL) {
            goto done;
        }
        appended = PyList_Append(events, event);
        Py_DECREF(event);
        if (appended < 0) {
            goto done;
        }
        pos += header + (Py_ssize_t)length;
    }
    result = PyLong_FromSsize_t(pos);
done:
    PyBuffer_Release(&view);
    return result;
}

/* ---------------------------------------------------------------------------------------------------
 * Server frames (never masked, §5.1): header and payload in one allocation.
 */

/* Write the header of an unmasked frame into out (at most 10 bytes); return its length. */
static Py_ssize_t
_put_header(unsigned char *out, unsigned char b0, Py_ssize_t length)
{
    int i;

    out[0] = b0;
    if (length < 126) {
        out[1] = (unsigned char)length;
        return 2;
    }
    if (length < 0x10000) {
        out[1] = 126;
        out[2] = (unsigned char)(length >> 8);
        out[3] = (unsigned char)length;
        return 4;
    }
    out[1] = 127;
    for (i = 0; i < 8; i++) {
        out[2 + i] = (unsigned char)((uint64_t)length >> (56 - 8 * i));
    }
    return 10;
}

static PyObject *
_frame_of(unsigned char b0, const void *payload, Py_ssize_t length)
{
    unsigned char header[10];
    Py_ssize_t hlen = _put_header(header, b0, length);
    PyObject *frame;

    if (length > PY_SSIZE_T_MAX - hlen) {
        return PyErr_NoMemory();
    }
    frame = PyBytes_FromStringAndSize(NULL, hlen + length);
    if (frame != NULL) {
        memcpy(PyBytes_AS_STRING(frame), header, hlen);
        if (length) {
            memcpy(PyBytes_AS_STRING(frame) + hlen, payload, length);
        }
    }
    return frame;
}

PyDoc_STRVAR(encode_frame_doc,
"encode_frame(opcode, payload, fin=True, rsv1=False) -> bytes\n\n"
"One unmasked frame, header and payload in one bytes; the same bytes as frames.encode_frame.");

static PyObject *
encode_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[4] = {"opcode", "payload", "fin", "rsv1"};
    PyObject *argv[4] = {NULL, NULL, NULL, NULL};
    long opcode;
    int fin = 1, rsv1 = 0;
    Py_buffer payload;
    PyObject *frame;

    (void)module;
    if (bind_args("encode_frame", names, 4, args, nargs, kwnames, argv) < 0) {
        return NULL;
    }
    opcode = PyLong_AsLong(argv[0]);
    if (opcode == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (opcode < 0 || opcode > 15) {
        PyErr_SetString(PyExc_ValueError, "opcode must be 0-15");
        return NULL;
    }
    if (argv[2] != NULL && (fin = PyObject_IsTrue(argv[2])) < 0) {
        return NULL;
    }
    if (argv[3] != NULL && (rsv1 = PyObject_IsTrue(argv[3])) < 0) {
        return NULL;
    }
    if (PyBytes_CheckExact(argv[1])) {
        return _frame_of((unsigned char)(opcode | (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0)),
                         PyBytes_AS_STRING(argv[1]), PyBytes_GET_SIZE(argv[1]));
    }
    if (PyObject_GetBuffer(argv[1], &payload, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    frame = _frame_of((unsigned char)(opcode | (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0)), payload.buf, payload.len);
    PyBuffer_Release(&payload);
    return frame;
}

PyDoc_STRVAR(encode_text_frame_doc,
"encode_text_frame(text) -> bytes\n\n"
"One unfragmented, uncompressed text frame of str text: encode_frame(1, text.encode('utf-8')).");

static PyObject *
encode_text_frame(PyObject *module, PyObject *text)
{
    PyObject *data, *frame;

    (void)module;
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "expected str, got %.100s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    if (PyUnicode_IS_ASCII(text)) {
        return _frame_of(0x81, PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text));
    }
    /* Not PyUnicode_AsUTF8AndSize: it would keep the UTF-8 alive as long as the str. */
    data = PyUnicode_AsUTF8String(text);
    if (data == NULL) {
        return NULL;
    }
    frame = _frame_of(0x81, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data));
    Py_DECREF(data);
    return frame;
}

static PyMethodDef _speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL | METH_KEYWORDS, apply_mask_doc},
    {"unmask_chunks", (PyCFunction)(void (*)(void))unmask_chunks, METH_FASTCALL, unmask_chunks_doc},
    {"use_event_types", (PyCFunction)(void (*)(void))use_event_types, METH_FASTCALL, use_event_types_doc},
    {"read_messages", (PyCFunction)(void (*)(void))read_messages, METH_FASTCALL, read_messages_doc},
    {"encode_frame", (PyCFunction)(void (*)(void))encode_frame, METH_FASTCALL | METH_KEYWORDS, encode_frame_doc},
    {"encode_text_frame", (PyCFunction)encode_text_frame, METH_O, encode_text_frame_doc},
    {NULL, NULL, 0, NULL},
};

static int
_speedups_exec(PyObject *module)
{
    PyObject *type = PyType_FromModuleAndSpec(module, &PayloadBuffer_spec, NULL);

    if (type == NULL) {
        return -1;
    }
    if (PyModule_AddObject(module, "PayloadBuffer", type) < 0) {
        Py_DECREF(type);
        return -1;
    }
#ifdef _LIVEWS_SSE2
    _xor_impl = _xor_sse2;
#endif
#ifdef _LIVEWS_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) {
        _xor_impl = _xor_avx2;
    }
#endif
    return 0;
}

static PyModuleDef_Slot _speedups_slots[] = {
    {Py_mod_exec, (void *)_speedups_exec},
    {0, NULL},
};

PyDoc_STRVAR(_speedups_doc, "Compiled unmasking for livews.engine.masking; see apply_mask.");

static struct PyModuleDef _speedups_module = {
    PyModuleDef_HEAD_INIT,
    "livews.engine._speedups",
    _speedups_doc,
    0,
    _speedups_methods,
    _speedups_slots,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&_speedups_module);
}
