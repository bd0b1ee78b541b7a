/// <summary>One purge as the soak's purger saw it: when it was sent, its round trip, the API's slowest
/// acknowledgement (publication to the last node's ack) and every node's.</summary>
internal readonly record struct PurgeTiming(long StartedUnixMs, double RoundTripMs, double PropagationMs, string Acked);
