"""Training pieces used by the train mode: loss, class weights, learning-rate schedule, callbacks."""
