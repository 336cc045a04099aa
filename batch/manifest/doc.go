// Package manifest reads the lists of objects users already have for big
// buckets: S3 Batch Operations CSV manifests and S3 Inventory reports in
// CSV format. Read streams either one, calling a function per object, in
// memory that does not grow with the number of rows.
//
// # Batch Operations CSV
//
// One object per row, no header row (one would be read as an object),
// two or three columns:
//
//	bucket,key[,versionId]
//	amzn-s3-demo-bucket,photos/2024/a+b%2Bc.jpg
//	amzn-s3-demo-bucket,logs/x.gz,3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY
//
// AWS requires the manifest's keys to be URL-encoded. Read decodes them as
// application/x-www-form-urlencoded (url.QueryUnescape): %XX is a byte and
// '+' is a space, so a literal '+' must be written %2B. That is how S3
// itself writes keys in Inventory reports and event notifications, which
// Batch Operations also accepts as manifests, so one decoding reads both;
// the row above names "photos/2024/a b+c.jpg". Bucket and version ID are
// taken as written (version IDs may hold '+' and '/').
//
// # Inventory report (CSV)
//
// A manifest.json, as S3 Inventory writes it next to its data files:
//
//	{
//	  "sourceBucket": "amzn-s3-demo-source-bucket",
//	  "destinationBucket": "arn:aws:s3:::amzn-s3-demo-inventory-bucket",
//	  "version": "2016-11-30",
//	  "creationTimestamp": "1514944800000",
//	  "fileFormat": "CSV",
//	  "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, ...",
//	  "files": [
//	    {"key": "prefix/.../data/1.csv.gz", "size": 2147, "MD5checksum": "f11166069f1990abeb9c97ace9cdfabc"},
//	    ...
//	  ]
//	}
//
// Each file is a gzip-compressed CSV whose columns follow fileSchema
// (Bucket and Key required, the rest found by name, unknown ones ignored),
// every field usually quoted, keys URL-encoded as above:
//
//	"amzn-s3-demo-source-bucket","a%2Fb+c.txt","v1","true","false","42",...
//
// Read opens each file with the caller's Opener, passing the bucket of
// destinationBucket (an S3 ARN, any partition) and the file's key; where a
// local manifest.json finds its files is the Opener's business (RootOpener
// serves a local copy of the destination bucket). While a file streams,
// its MD5 and size are computed and compared with MD5checksum (required)
// and size at its end: a difference is ErrChecksum,
// after that file's rows were yielded. Callers that must not act on a
// tampered file read the manifest through once before acting.
//
// Rows: IsDeleteMarker=true rows are skipped (there is no object to
// read); noncurrent versions (IsLatest=false) are kept, with VersionID
// set, so a versioned inventory names every version. A row's bucket must
// equal sourceBucket when that is set. Size is -1 when the column is
// absent or empty. fileFormat ORC or Parquet (anything but CSV) fails
// with ErrUnsupportedFormat, the format quoted in the error.
//
// # Limits and errors
//
// A manifest may come from an attacker. Every bad input fails the read with
// an *Error giving the data file and line, the field, the offending value
// (strconv.Quote'd, at most 64 bytes shown) and a sentinel for errors.Is:
// ErrMalformed, ErrLimit, ErrUnsupportedFormat or ErrChecksum.
//
//   - A CSV row (record) is at most MaxRowBytes (8 KiB), its newline
//     excluded. A row ends at a newline outside quotes, so a quoted field
//     spanning lines counts whole and blank lines count for nothing. A
//     longer row fails at its byte MaxRowBytes+1, having cost at most that
//     plus the CSV parser's 4 KiB read-ahead of memory.
//   - A key is 1 to MaxKeyBytes (1024) bytes after decoding, valid UTF-8,
//     without NUL, as S3 allows; a bad %XX escape is ErrMalformed.
//   - A bucket is 1 to 255 bytes of [A-Za-z0-9._-]; a version ID at most
//     1024 bytes of printable ASCII.
//   - A Batch Operations row has 2 or 3 columns; an Inventory row exactly
//     as many as fileSchema, which has at most 64.
//   - manifest.json is at most MaxJSONBytes (16 MiB) and lists at most
//     MaxFiles (100,000) files; it is the one thing read whole.
//   - Data files are decompressed as they stream: a gzip bomb costs CPU,
//     not memory, and its first over-long row ends it.
package manifest
