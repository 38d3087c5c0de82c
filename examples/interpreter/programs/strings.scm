;; strings: a long string built by repeated concatenation versus by collecting the parts and
;; joining once. Each string-append copies everything built so far (quadratic bytes); the join
;; copies every byte once. The counts come from the heap's own counters (gc-stats).
(define (say . items) (for-each display items) (newline))

;; (measure thunk) -> (result allocations bytes): what the heap handed out while thunk ran.
(define (measure thunk)
  (let* ((before (gc-stats))
         (result (thunk))
         (after (gc-stats)))
    (list result (- (car after) (car before)) (- (cadr after) (cadr before)))))

(define parts 200)
(define piece "0123456789")

(define (by-concatenation)
  (let loop ((i 0) (s ""))
    (if (< i parts) (loop (+ i 1) (string-append s piece)) s)))

(define (by-join)
  (let loop ((i 0) (collected '()))
    (if (< i parts) (loop (+ i 1) (cons piece collected)) (string-join collected))))

(define concat (measure by-concatenation))
(define joined (measure by-join))
(say "same string: " (string=? (car concat) (car joined)) ", length " (string-length (car joined)))
(say "repeated string-append: " (cadr concat) " allocations, " (caddr concat) " bytes")
(say "collect and join once:  " (cadr joined) " allocations, " (caddr joined) " bytes")
(say "join allocates at least 10x fewer bytes: " (> (caddr concat) (* 10 (caddr joined))))
