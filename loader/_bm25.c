/*
 * bm25_bounded(fts_table, weight, ...): FTS5's bm25() with a bounded count of each phrase's papers.
 *
 * Before it scores its first row, FTS5's bm25() counts every row that holds each phrase of the
 * query, reading the phrase's whole posting list: at a million papers that was 85 ms of a 110 ms
 * query whose words are common. This function counts a phrase's rows up to BOUND and stops there.
 * Paper ids are hashes of titles, uniform below 2^53 (loader/records.py, paper_id), so the rowid of
 * the BOUND-th match, in rowid order, tells how many there are in all: BOUND * 2^53 / rowid, within
 * about 3% (1/sqrt(BOUND)). A phrase held by fewer papers is counted exactly, as bm25() counts it,
 * and the scores are bm25()'s to the last bit. The rest is fts5_aux.c's fts5Bm25Function, the same
 * formula (k1 = 1.2, b = 0.75) and the same arguments: a weight per column.
 *
 * A Python module so that setuptools builds it with the package; loader/bm25.py registers the
 * function on a connection, and falls back to bm25() where this module cannot be built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define BOUND 1000
#define ROWID_SPACE 9007199254740992.0 /* 2^53: paper ids are uniform below it */

typedef struct {
    int phrases;
    double average_size; /* tokens per row, every column */
    double *idf;         /* per phrase */
    double *frequency;   /* per phrase, for the current row: weighted instances */
} Bm25;

typedef struct {
    sqlite3_int64 matches;
    sqlite3_int64 last_rowid;
} Count;

static int count_match(const Fts5ExtensionApi *api, Fts5Context *fts, void *context) {
    Count *count = (Count *)context;
    count->matches++;
    if (count->matches < BOUND) return SQLITE_OK;
    count->last_rowid = api->xRowid(fts);
    return SQLITE_DONE; /* xQueryPhrase stops and returns SQLITE_OK */
}

/* How many rows hold phrase `phrase`: counted below BOUND, estimated from the BOUND-th above. */
static int phrase_rows(const Fts5ExtensionApi *api, Fts5Context *fts, int phrase, sqlite3_int64 rows,
                       double *out) {
    Count count = {0, 0};
    int rc = api->xQueryPhrase(fts, phrase, &count, count_match);
    if (rc != SQLITE_OK) return rc;
    if (count.matches < BOUND || count.last_rowid <= 0) {
        *out = (double)count.matches;
    } else {
        double estimate = BOUND * (ROWID_SPACE / (double)count.last_rowid);
        *out = estimate > (double)rows ? (double)rows : estimate;
    }
    return SQLITE_OK;
}

static int bm25_of_query(const Fts5ExtensionApi *api, Fts5Context *fts, Bm25 **out) {
    Bm25 *data = (Bm25 *)api->xGetAuxdata(fts, 0);
    if (data) {
        *out = data;
        return SQLITE_OK;
    }
    int phrases = api->xPhraseCount(fts);
    data = (Bm25 *)calloc(1, sizeof(Bm25) + sizeof(double) * 2 * (size_t)phrases);
    if (!data) return SQLITE_NOMEM;
    data->phrases = phrases;
    data->idf = (double *)&data[1];
    data->frequency = &data->idf[phrases];
    sqlite3_int64 rows = 0, tokens = 0;
    int rc = api->xRowCount(fts, &rows);
    if (rc == SQLITE_OK) rc = api->xColumnTotalSize(fts, -1, &tokens);
    data->average_size = rows ? (double)tokens / (double)rows : 1.0;
    for (int i = 0; rc == SQLITE_OK && i < phrases; i++) {
        double holding = 0.0;
        rc = phrase_rows(api, fts, i, rows, &holding);
        double idf = log(((double)rows - holding + 0.5) / (holding + 0.5));
        data->idf[i] = idf <= 0.0 ? 1e-6 : idf;
    }
    if (rc == SQLITE_OK) {
        rc = api->xSetAuxdata(fts, data, free); /* frees data itself when it fails */
    } else {
        free(data);
    }
    if (rc == SQLITE_OK) *out = data;
    return rc;
}

static void bm25_bounded(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *context, int weights,
                         sqlite3_value **weight) {
    const double k1 = 1.2, b = 0.75;
    Bm25 *data = NULL;
    int rc = bm25_of_query(api, fts, &data);
    int instances = 0, size = 0;
    if (rc == SQLITE_OK) {
        memset(data->frequency, 0, sizeof(double) * (size_t)data->phrases);
        rc = api->xInstCount(fts, &instances);
    }
    for (int i = 0; rc == SQLITE_OK && i < instances; i++) {
        int phrase, column, offset;
        rc = api->xInst(fts, i, &phrase, &column, &offset);
        if (rc == SQLITE_OK) data->frequency[phrase] += column < weights ? sqlite3_value_double(weight[column]) : 1.0;
    }
    if (rc == SQLITE_OK) rc = api->xColumnSize(fts, -1, &size);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(context, rc);
        return;
    }
    double score = 0.0, length = k1 * (1 - b + b * (double)size / data->average_size);
    for (int i = 0; i < data->phrases; i++) {
        double f = data->frequency[i];
        score += data->idf[i] * (f * (k1 + 1.0)) / (f + length);
    }
    sqlite3_result_double(context, -1.0 * score);
}

static int create_function(sqlite3 *db) {
    fts5_api *fts5 = NULL;
    sqlite3_stmt *statement = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &statement, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_pointer(statement, 1, (void *)&fts5, "fts5_api_ptr", NULL);
    sqlite3_step(statement);
    rc = sqlite3_finalize(statement);
    if (rc != SQLITE_OK) return rc;
    if (fts5 == NULL || fts5->iVersion < 2) return SQLITE_ERROR;
    return fts5->xCreateFunction(fts5, "bm25_bounded", NULL, bm25_bounded, NULL);
}

/* CPython's sqlite3.Connection begins so (Modules/_sqlite/connection.h, 3.8 to 3.13). */
typedef struct {
    PyObject_HEAD sqlite3 *db;
} Connection;

static PyObject *connection_type = NULL;

static PyObject *register_function(PyObject *module, PyObject *connection) {
    int is_connection = PyObject_IsInstance(connection, connection_type);
    if (is_connection < 0) return NULL;
    if (!is_connection) {
        PyErr_SetString(PyExc_TypeError, "register() takes a sqlite3.Connection");
        return NULL;
    }
    sqlite3 *db = ((Connection *)connection)->db;
    if (db == NULL) {
        PyErr_SetString(PyExc_ValueError, "the connection is closed");
        return NULL;
    }
    int rc = create_function(db);
    if (rc != SQLITE_OK) {
        PyErr_Format(PyExc_RuntimeError, "FTS5 did not take bm25_bounded: %s", sqlite3_errstr(rc));
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *library_version(PyObject *module, PyObject *unused) {
    return PyUnicode_FromString(sqlite3_libversion());
}

static PyMethodDef methods[] = {
    {"register", register_function, METH_O, "Give the connection the FTS5 function bm25_bounded."},
    {"sqlite_version", library_version, METH_NOARGS, "The version of the SQLite library this module calls."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bm25", NULL, -1, methods};

PyMODINIT_FUNC PyInit__bm25(void) {
    PyObject *sqlite3_module = PyImport_ImportModule("sqlite3");
    if (sqlite3_module == NULL) return NULL;
    connection_type = PyObject_GetAttrString(sqlite3_module, "Connection");
    Py_DECREF(sqlite3_module);
    if (connection_type == NULL) return NULL;
    PyObject *created = PyModule_Create(&module);
    if (created != NULL && PyModule_AddIntConstant(created, "BOUND", BOUND) < 0) {
        Py_DECREF(created);
        return NULL;
    }
    return created;
}
