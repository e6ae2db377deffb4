package release

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/privagg/privagg/internal/version"
	"github.com/privagg/privagg/privacy"
)

// Parquet key-value metadata keys written into every released file.
const (
	ParquetKeyDescription = "privagg.description" // ReleaseDescription
	ParquetKeyReleaseID   = "privagg.release_id"
	ParquetKeyJob         = "privagg.job"
	ParquetKeyDataset     = "privagg.dataset"
	ParquetKeyPurpose     = "privagg.purpose"
	ParquetKeyEpsilon     = "privagg.epsilon"
	ParquetKeyDelta       = "privagg.delta"
	ParquetKeyNoise       = "privagg.noise"
	ParquetKeyK           = "privagg.k"          // Manifest.K: 0 with public partitions
	ParquetKeyPartitions  = "privagg.partitions" // Manifest.Partitions
	ParquetKeyCreated     = "privagg.created"
	ParquetKeyVersion     = "privagg.version"
)

// parquetSink writes <dir>/<output>.parquet per output, zstd-compressed, one
// row group per output (released tables are small), with the release's
// metadata as key-value metadata.
type parquetSink struct {
	mem   memory.Allocator
	codec compress.Compression
	ops   fsOps
}

func newParquetSink() *parquetSink {
	return &parquetSink{mem: memory.DefaultAllocator, codec: compress.Codecs.Zstd}
}

func (s *parquetSink) format() string { return FormatParquet }

// Write implements Sink.
func (s *parquetSink) Write(ctx context.Context, rel *privacy.Release, dir string) ([]WrittenFile, error) {
	tables, err := tablesOf(rel)
	if err != nil {
		return nil, err
	}
	return writeRelease(ctx, s, tables, rel.Metadata(), dir, opsOrDefault(s.ops))
}

func (s *parquetSink) stageData(ctx context.Context, dir *atomicDir, tables []outTable, meta privacy.Metadata) ([]stagedData, error) {
	locs := make([]stagedData, len(tables))
	for i, t := range tables {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := t.name + ".parquet"
		info, err := dir.stage(name, false, func(w io.Writer) error { return s.writeParquet(w, t, meta) })
		if err != nil {
			return nil, err
		}
		locs[i] = stagedData{file: name, info: info}
	}
	return locs, nil
}

func (s *parquetSink) writeParquet(w io.Writer, t outTable, meta privacy.Metadata) error {
	mem := s.mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	props := parquet.NewWriterProperties(
		parquet.WithAllocator(mem),
		parquet.WithCompression(s.codec),
		parquet.WithMaxRowGroupLength(max(t.record.NumRows(), 1)),
		parquet.WithCreatedBy("privagg "+version.Version),
		// Plain encoding: released tables have one row per partition, noisy
		// metrics are all distinct, and arrow-go's dictionary encoder
		// allocates per value.
		parquet.WithDictionaryDefault(false),
	)
	fw, err := pqarrow.NewFileWriter(t.record.Schema(), w, props,
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()))
	if err != nil {
		return err
	}
	err = fw.Write(t.record)
	for _, kv := range parquetKeyValues(meta, t) {
		if err != nil {
			break
		}
		err = fw.AppendKeyValueMetadata(kv[0], kv[1])
	}
	if cerr := fw.Close(); err == nil {
		err = cerr
	}
	return err
}

// parquetKeyValues is the release metadata stored in the Parquet file of t.
func parquetKeyValues(meta privacy.Metadata, t outTable) [][2]string {
	partitions, _ := t.partitions()
	return [][2]string{
		{ParquetKeyDescription, ReleaseDescription},
		{ParquetKeyReleaseID, meta.ID},
		{ParquetKeyJob, meta.Job},
		{ParquetKeyDataset, meta.Dataset},
		{ParquetKeyPurpose, meta.Purpose},
		{ParquetKeyEpsilon, strconv.FormatFloat(meta.Epsilon, 'g', -1, 64)},
		{ParquetKeyDelta, strconv.FormatFloat(meta.Delta, 'g', -1, 64)},
		{ParquetKeyNoise, string(meta.Noise)},
		{ParquetKeyK, strconv.FormatInt(t.k, 10)},
		{ParquetKeyPartitions, partitions},
		{ParquetKeyCreated, meta.Created.UTC().Format(time.RFC3339Nano)},
		{ParquetKeyVersion, version.Version},
	}
}
