package api

import (
	"context"

	"github.com/flashdrop/flashdrop/engine"
)

// SeriesService manages weekly series (engine.Engine).
type SeriesService interface {
	// CreateSeries creates a series, or finds the same one (created=false).
	CreateSeries(ctx context.Context, s engine.Series) (engine.Series, bool, error)
	SeriesList(ctx context.Context) ([]engine.Series, error)
	DeleteSeries(ctx context.Context, id string) error
	// NextSeriesDrop is a series with its next drop, made or to be made.
	NextSeriesDrop(ctx context.Context, id string) (engine.Series, engine.NextDrop, error)
}

// DrawService serves draws' public records (engine.Engine).
type DrawService interface {
	DrawRecord(ctx context.Context, drop string, offset, limit int64) (engine.DrawRecord, error)
}
