;; out-of-memory: running out of heap is a MemoryError the program can catch; afterwards the heap
;; is consistent (heap-verify) and the memory the failed computation held is reusable.
;; Run in a 64 KB heap.
(define (say . items) (for-each display items) (newline))

;; 1. Fill the heap with a list that stays reachable until the error unwinds it.
(define (fill lst) (fill (cons (make-vector 8 0) lst)))
(say "filling the heap: "
     (guard (e ((memory-error? e) (error-object-message e)))
       (fill '())))
(say "heap consistent: " (heap-verify))
(say "allocating again works: " (vector-length (make-vector 500 0)))

;; 2. A single request larger than the whole heap.
(say "a 1 MB vector: "
     (guard (e ((memory-error? e) (error-kind e)))
       (make-vector 131072 0)))

;; 3. With automatic collection off, a full heap fails even though it is all garbage. The
;; handler turns collection back on first: until then nothing at all can be allocated.
(define outcome #f)
(define (garbage-without-collection)
  (gc-disable)
  (set! outcome (gc-isenabled))
  (guard (e ((memory-error? e) (gc-enable) (set! outcome (list outcome (error-kind e)))))
    (let loop ((i 0)) (iota 10) (loop (+ i 1)))))
(garbage-without-collection)
(say "collection disabled (enabled? #f), then: " outcome)
(say "collection enabled again, garbage is fine: "
     (let loop ((i 0)) (if (< i 2000) (begin (iota 10) (loop (+ i 1))) 'done)))

;; 4. heap-lock: nothing may allocate; the error is still catchable (the handler needs no memory).
(define result #f)
(define (allocate-while-locked)
  (heap-lock)
  (set! result (guard (e ((memory-error? e) (error-object-message e))) (cons 1 2)))
  (heap-unlock))
(allocate-while-locked)
(say "while locked: " result)
(say "unlocked, lock depth: " (heap-locked))
(say "heap consistent: " (heap-verify))
