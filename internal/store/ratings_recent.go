package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// RatingRequestView is a request with its rating, for people (ops console).
type RatingRequestView struct {
	RatingRequest
	Rating *Rating
}

// RecentRatingRequests lists the newest rating requests with their ratings.
func (s *Store) RecentRatingRequests(ctx context.Context, limit int) ([]RatingRequestView, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+requestColumns+` FROM rating_requests ORDER BY requested_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	reqs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RatingRequest, error) { return scanRequest(r) })
	if err != nil || len(reqs) == 0 {
		return nil, err
	}
	ids := make([]int64, len(reqs))
	for i, r := range reqs {
		ids[i] = r.ID
	}
	rows, err = s.Pool.Query(ctx, `SELECT `+ratingColumns+` FROM ratings WHERE request_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	ratings, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rating, error) { return scanRating(r) })
	if err != nil {
		return nil, err
	}
	byRequest := map[int64]*Rating{}
	for i := range ratings {
		byRequest[ratings[i].RequestID] = &ratings[i]
	}
	out := make([]RatingRequestView, len(reqs))
	for i, r := range reqs {
		out[i] = RatingRequestView{RatingRequest: r, Rating: byRequest[r.ID]}
	}
	return out, nil
}
