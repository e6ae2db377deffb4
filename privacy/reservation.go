package privacy

// Reservation is the ledger's proof that a release's budget was charged
// before any noise is drawn. Only the ledger makes one (newReservation), and a
// Releaser cannot be built without it.
type Reservation struct {
	releaseID string
	dataset   string
	epsilon   float64
	delta     float64
}

// newReservation is called by the ledger after an atomic check-and-charge.
func newReservation(releaseID, dataset string, epsilon, delta float64) *Reservation {
	return &Reservation{releaseID: releaseID, dataset: dataset, epsilon: epsilon, delta: delta}
}

// ReleaseID is the release the budget was charged for.
func (r *Reservation) ReleaseID() string { return r.releaseID }

// Dataset is the budget the charge was drawn from.
func (r *Reservation) Dataset() string { return r.dataset }

// Epsilon is the charged ε.
func (r *Reservation) Epsilon() float64 { return r.epsilon }

// Delta is the charged δ.
func (r *Reservation) Delta() float64 { return r.delta }
