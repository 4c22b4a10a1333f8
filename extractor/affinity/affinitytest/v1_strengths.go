package affinitytest

import (
	"net/http"
)

// API v1 relationship strengths: GET /relationships-strengths?external_id=P[&internal_id=I],
// one unpaged bare array.

func listStrengths(_ *Workspace, x *index, r *http.Request, _ []int64) (any, *apiError) {
	ext, ok, err := intParam(r, "external_id")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorf(http.StatusUnprocessableEntity, "external_id is required")
	}
	p := x.persons[ext]
	if p == nil {
		return nil, errorf(http.StatusNotFound, "Person not found")
	}
	if p.Type != 0 {
		return nil, errorf(http.StatusUnprocessableEntity, "external_id must be an external person")
	}
	internal, filter, err := intParam(r, "internal_id")
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, s := range x.strengthsByExternal[ext] {
		if filter && s.InternalID != internal {
			continue
		}
		out = append(out, obj{"internal_id": s.InternalID, "external_id": s.ExternalID, "strength": s.Strength})
	}
	return out, nil
}
