package gateway

// Sessions returns the number of open connections (for the tests).
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
